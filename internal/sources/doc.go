// Package sources pulls intelligence from upstream TAXII collections (2.1, and
// 2.0 converted to STIX 2.1) so that this server's feeds can republish it.
// The client copes with upstreams as they are: retries with backoff, a refused
// or ignored next, missing X-TAXII headers; a Sink commits each page together
// with the watermark it reaches, so a crash never skips an object.
package sources
