package storetest_test

import (
	"slices"
	"testing"

	"github.com/inthreat/taxii-server/internal/store/storetest"
)

func TestStoresListsEveryImplementation(t *testing.T) {
	var names []string
	for _, st := range storetest.Stores(t) {
		names = append(names, st.Name)
		t.Run(st.Name, func(t *testing.T) {
			s := st.New(t)
			if err := s.CheckSchema(t.Context()); err != nil {
				t.Fatalf("a store from Stores is not migrated: %v", err)
			}
		})
	}
	if want := []string{"sqlite", "postgres"}; !slices.Equal(names, want) {
		t.Fatalf("Stores = %v, want %v", names, want)
	}
}
