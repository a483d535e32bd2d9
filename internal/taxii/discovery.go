package taxii

import "net/http"

// discoveryResource is spec 4.1.1.
type discoveryResource struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// apiRootResource is spec 4.2.1.
type apiRootResource struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

func (h *handler) discovery(w http.ResponseWriter, r *http.Request) {
	root := h.apiRootURL(r)
	h.writeJSON(w, r, http.StatusOK, discoveryResource{
		Title:       h.opts.Title,
		Description: h.opts.Description,
		Contact:     h.opts.Contact,
		Default:     root,
		APIRoots:    []string{root},
	})
}

func (h *handler) apiRoot(w http.ResponseWriter, r *http.Request) {
	h.writeJSON(w, r, http.StatusOK, apiRootResource{
		Title:            h.opts.APIRootTitle,
		Description:      h.opts.APIRootDescription,
		Versions:         []string{MediaTypeTAXII},
		MaxContentLength: h.opts.MaxContentLength,
	})
}
