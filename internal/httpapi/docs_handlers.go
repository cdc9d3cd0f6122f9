package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// docsUI is the interactive API reference served at GET /docs: a small
// page of our own (index.html, init.js) and the Swagger UI renderer
// vendored from the npm registry (docsui/swagger-ui/README.md says which
// version and how it was fetched). Everything is in the binary: the page
// makes no request beyond this server.
//
//go:embed docsui/index.html docsui/init.js docsui/swagger-ui/swagger-ui-bundle.js docsui/swagger-ui/swagger-ui.css
//go:embed docsui/swagger-ui/swagger-ui-bundle.js.LICENSE.txt docsui/swagger-ui/LICENSE docsui/swagger-ui/NOTICE
var docsUI embed.FS

// docsFiles maps the names served under /docs/{file} to their embedded
// paths. The page itself is GET /docs; it refers to these by relative URL
// ("docs/…"), so it also works behind a path prefix.
var docsFiles = map[string]string{
	"init.js":                          "docsui/init.js",
	"swagger-ui-bundle.js":             "docsui/swagger-ui/swagger-ui-bundle.js",
	"swagger-ui.css":                   "docsui/swagger-ui/swagger-ui.css",
	"swagger-ui-bundle.js.LICENSE.txt": "docsui/swagger-ui/swagger-ui-bundle.js.LICENSE.txt",
	"swagger-ui-LICENSE.txt":           "docsui/swagger-ui/LICENSE",
	"swagger-ui-NOTICE.txt":            "docsui/swagger-ui/NOTICE",
}

// DocsFiles returns the names served under /docs/{file}, sorted (tests
// fetch each of them).
func DocsFiles() []string {
	names := make([]string, 0, len(docsFiles))
	for n := range docsFiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// docsFilesNote lists the served files for the OpenAPI document.
func docsFilesNote() string { return "file is one of: " + strings.Join(DocsFiles(), ", ") + "." }

// docsCSP lets the page run with nothing but this server: scripts,
// styles and the OpenAPI document from our own origin only, no inline
// script or style, no framing, no form posts. Swagger UI draws its icons
// as data: images, hence img-src data:. (Checked in headless Chromium:
// the page renders and "Try it out" works with no violation reported.)
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsAsset is one file ready to serve: its bytes, a gzip copy when that
// is worth it, and the ETag of each.
type docsAsset struct {
	contentType string
	body, gz    []byte
	etag, gzTag string
}

// docsAssets reads and compresses every asset once, on first use: the
// bundle is 1.7 MB, which gzip brings under 500 kB.
var docsAssets = sync.OnceValue(func() map[string]*docsAsset {
	out := map[string]*docsAsset{}
	load := func(name, file string) {
		body, err := docsUI.ReadFile(file)
		if err != nil {
			panic("httpapi: embedded docs asset missing: " + file)
		}
		sum := sha256.Sum256(body)
		a := &docsAsset{contentType: docsContentType(file), body: body,
			etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		if len(body) > 1024 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			if buf.Len() < len(body) {
				a.gz = buf.Bytes()
				a.gzTag = `"` + hex.EncodeToString(sum[:16]) + `-gzip"`
			}
		}
		out[name] = a
	}
	load("", "docsui/index.html")
	for name, file := range docsFiles {
		load(name, file)
	}
	return out
})

func docsContentType(file string) string {
	switch path.Ext(file) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return "text/plain; charset=utf-8" // LICENSE, NOTICE, *.txt
}

// docsPage serves GET /docs.
func (a *API) docsPage(w http.ResponseWriter, r *http.Request) error {
	serveDocsAsset(w, r, docsAssets()[""])
	return nil
}

// docsFile serves GET /docs/{file}.
func (a *API) docsFile(w http.ResponseWriter, r *http.Request) error {
	asset, ok := docsAssets()[r.PathValue("file")]
	if !ok || r.PathValue("file") == "" {
		return errNotFound("docs file " + strconv.Quote(r.PathValue("file")))
	}
	serveDocsAsset(w, r, asset)
	return nil
}

// serveDocsAsset writes an asset with its validators. The assets change
// only with the binary, but their URLs do not, so browsers keep them and
// revalidate on each use (no-cache + ETag: a 304 after the first load,
// never a stale bundle after an upgrade).
func serveDocsAsset(w http.ResponseWriter, r *http.Request, asset *docsAsset) {
	h := w.Header()
	h.Set("Content-Type", asset.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	body, etag := asset.body, asset.etag
	if asset.gz != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			body, etag = asset.gz, asset.gzTag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether Accept-Encoding allows gzip (RFC 9110
// §12.5.3): listed, or covered by "*", and not with q=0.
func acceptsGzip(values []string) bool {
	gzip, star := -1.0, -1.0
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(val, 64); err == nil {
						q = f
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzip = q
			case "*":
				star = q
			}
		}
	}
	if gzip >= 0 {
		return gzip > 0
	}
	return star > 0
}
