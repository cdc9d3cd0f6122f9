package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/internal/httpapi"
)

// docsServer is the real router; the reference needs no store, and a
// test server gives real URLs to resolve the page's references against.
func docsServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Version: "test"}, httpapi.Deps{}))
	t.Cleanup(srv.Close)
	return srv
}

// get fetches u with headers; the transport's own gzip handling is off so
// that the test sees what the server sends.
func get(t *testing.T, method, u string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

var (
	htmlRefRE     = regexp.MustCompile(`(?i)\b(?:src|href)="([^"]*)"`)
	scriptTagRE   = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	styleAttrRE   = regexp.MustCompile(`(?i)<[^>]+\sstyle=`)
	jsURLRE       = regexp.MustCompile(`new URL\("([^"]+)", document\.currentScript\.src\)`)
	readmeShaRE   = regexp.MustCompile("\\| `([^`]+)` \\| `([0-9a-f]{64})` \\|")
	wantTypeByExt = map[string]string{".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".json": "application/json"}
)

// TestDocsPage loads GET /docs the way a browser does: the page, every
// file it references, and the OpenAPI document its script loads, all from
// the binary, each with the right content type and cache validators.
func TestDocsPage(t *testing.T) {
	t.Parallel()
	srv := docsServer(t)
	res, page := get(t, "GET", srv.URL+"/docs", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html; charset=utf-8") {
		t.Fatalf("GET /docs: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, never := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, never) {
			t.Errorf("CSP %q allows %q", csp, never)
		}
	}
	// The CSP forbids inline script and style: the page must have none, or
	// it would not work in a browser.
	for _, m := range scriptTagRE.FindAllStringSubmatch(string(page), -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script in the page: %s", m[0])
		}
	}
	if strings.Contains(string(page), "<style") || styleAttrRE.MatchString(string(page)) {
		t.Errorf("inline style in the page")
	}

	base, _ := url.Parse(srv.URL + "/docs")
	refs := map[string]bool{}
	for _, m := range htmlRefRE.FindAllStringSubmatch(string(page), -1) {
		if strings.HasPrefix(m[1], "data:") {
			continue
		}
		ref, err := base.Parse(m[1])
		if err != nil {
			t.Fatalf("reference %q: %v", m[1], err)
		}
		if ref.Host != base.Host {
			t.Errorf("the page refers to another host: %s", ref)
		}
		refs[ref.String()] = true
	}
	if len(refs) < 4 { // stylesheet, bundle, initializer, /openapi.json link
		t.Fatalf("the page refers to %d files only: %v", len(refs), refs)
	}
	// The initializer loads the OpenAPI document relative to itself.
	_, initJS := get(t, "GET", srv.URL+"/docs/init.js", nil)
	m := jsURLRE.FindStringSubmatch(string(initJS))
	if m == nil {
		t.Fatalf("init.js does not load the document with new URL(…, document.currentScript.src)")
	}
	scriptURL, _ := url.Parse(srv.URL + "/docs/init.js")
	spec, _ := scriptURL.Parse(m[1])
	if spec.Path != "/openapi.json" {
		t.Errorf("init.js loads %s, not /openapi.json", spec.Path)
	}
	refs[spec.String()] = true

	for ref := range refs {
		res, body := get(t, "GET", ref, nil)
		u, _ := url.Parse(ref)
		if res.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", u.Path, res.StatusCode, len(body))
			continue
		}
		if want, ok := wantTypeByExt[path.Ext(u.Path)]; ok && !strings.HasPrefix(res.Header.Get("Content-Type"), want) {
			t.Errorf("GET %s: Content-Type %q, want %s", u.Path, res.Header.Get("Content-Type"), want)
		}
		if u.Path == "/openapi.json" {
			continue
		}
		checkDocsAsset(t, srv, u.Path, res, body)
	}

	// Every file the reference serves, referenced or not (licences).
	for _, name := range httpapi.DocsFiles() {
		res, body := get(t, "GET", srv.URL+"/docs/"+name, nil)
		if res.StatusCode != 200 {
			t.Errorf("GET /docs/%s: %d", name, res.StatusCode)
			continue
		}
		checkDocsAsset(t, srv, "/docs/"+name, res, body)
	}
	for _, bad := range []string{"/docs/nope.js", "/docs/", "/docs/..%2fopenapi.go", "/docs/swagger-ui/swagger-ui.css", "/docs/index.html"} {
		res, body := get(t, "GET", srv.URL+bad, nil)
		if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %s %s", bad, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
}

// checkDocsAsset: headers of a docs file, revalidation (304), HEAD, and
// gzip that decompresses to the very bytes.
func checkDocsAsset(t *testing.T, srv *httptest.Server, p string, res *http.Response, body []byte) {
	t.Helper()
	h := res.Header
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-cache" || h.Get("Content-Security-Policy") == "" {
		t.Errorf("GET %s: headers %v", p, h)
	}
	etag := h.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("GET %s: no strong ETag (%q)", p, etag)
	}
	if r, b := get(t, "GET", srv.URL+p, map[string]string{"If-None-Match": etag}); r.StatusCode != 304 || len(b) != 0 {
		t.Errorf("GET %s with If-None-Match: %d, %d bytes", p, r.StatusCode, len(b))
	}
	if r, b := get(t, "HEAD", srv.URL+p, nil); r.StatusCode != 200 || len(b) != 0 || r.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("HEAD %s: %d, %d bytes, Content-Length %s", p, r.StatusCode, len(b), r.Header.Get("Content-Length"))
	}
	r, gz := get(t, "GET", srv.URL+p, map[string]string{"Accept-Encoding": "gzip"})
	if r.Header.Get("Content-Encoding") != "gzip" {
		if len(body) > 4096 {
			t.Errorf("GET %s (%d bytes) is not compressed for a client that accepts gzip", p, len(body))
		}
		return
	}
	if r.Header.Get("ETag") == etag || !strings.Contains(r.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("GET %s gzip: ETag %q (identity %q), Vary %q", p, r.Header.Get("ETag"), etag, r.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, body) {
		t.Errorf("GET %s: the gzip body does not decompress to the identity body (%v)", p, err)
	}
}

// TestDocsGzipNegotiation: Accept-Encoding is read as RFC 9110 says.
func TestDocsGzipNegotiation(t *testing.T) {
	t.Parallel()
	srv := docsServer(t)
	for _, c := range []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"br, gzip;q=0.5", true},
		{"GZIP", true},
		{"x-gzip", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"*", true},
		{"*;q=0", false},
		{"br", false},
		{"identity", false},
		{"*, gzip;q=0", false},
	} {
		res, _ := get(t, "GET", srv.URL+"/docs/swagger-ui.css", map[string]string{"Accept-Encoding": c.accept})
		if got := res.Header.Get("Content-Encoding") == "gzip"; got != c.gzip {
			t.Errorf("Accept-Encoding %q: gzip = %v, want %v", c.accept, got, c.gzip)
		}
	}
}

// TestDocsVendored: the renderer the binary serves is the one the
// vendored folder's README names, byte for byte.
func TestDocsVendored(t *testing.T) {
	t.Parallel()
	srv := docsServer(t)
	readme, err := os.ReadFile("docsui/swagger-ui/README.md")
	if err != nil {
		t.Fatal(err)
	}
	sums := readmeShaRE.FindAllStringSubmatch(string(readme), -1)
	if len(sums) < 2 {
		t.Fatalf("README.md lists %d file checksums", len(sums))
	}
	for _, m := range sums {
		_, body := get(t, "GET", srv.URL+"/docs/"+m[1], nil)
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != m[2] {
			t.Errorf("/docs/%s is not the vendored file README.md describes (sha256 %x, README %s)", m[1], sum, m[2])
		}
	}
}

// TestOpenAPIOperationsComplete: every operation of the served document
// can be read and tried on its own: a summary and a tag, every path
// parameter declared (required), the errors it may answer (problem+json),
// and, unless public, the least role that may call it.
func TestOpenAPIOperationsComplete(t *testing.T) {
	t.Parallel()
	srv := docsServer(t)
	_, body := get(t, "GET", srv.URL+"/openapi.json", nil)
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	schemes, _ := dig(doc, "components", "securitySchemes").(map[string]any)
	if dig(schemes, "bearer", "scheme") != "bearer" || dig(schemes, "apiKey", "name") != "X-API-Key" || dig(schemes, "apiKey", "in") != "header" {
		t.Errorf("security schemes: %v (Swagger UI's Authorize needs bearer and X-API-Key)", schemes)
	}
	tagOrder := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		tagOrder[dig(tg, "name").(string)] = true
	}
	ops := 0
	for p, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			ops++
			key := strings.ToUpper(method) + " " + p
			op := op.(map[string]any)
			if s, _ := op["summary"].(string); strings.TrimSpace(s) == "" {
				t.Errorf("%s: no summary", key)
			}
			tags, _ := op["tags"].([]any)
			if len(tags) != 1 || !tagOrder[tags[0].(string)] {
				t.Errorf("%s: tags %v not one of the document's tags", key, tags)
			}
			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, prm := range params {
				if dig(prm, "in") == "path" {
					declared[dig(prm, "name").(string)] = true
					if dig(prm, "required") != true || dig(prm, "schema", "type") == nil {
						t.Errorf("%s: path parameter %v not required or untyped", key, prm)
					}
				}
				if s, _ := dig(prm, "name").(string); s == "" {
					t.Errorf("%s: a parameter without a name: %v", key, prm)
				}
			}
			for _, m := range paramRE.FindAllString(p, -1) {
				if !declared[strings.Trim(m, "{}")] {
					t.Errorf("%s: path parameter %s not declared", key, m)
				}
			}
			responses := op["responses"].(map[string]any)
			success, errs := 0, 0
			for code, r := range responses {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s: response code %q", key, code)
					continue
				}
				if n < 400 {
					success++
					continue
				}
				errs++
				if dig(r, "content", "application/problem+json", "schema", "$ref") != "#/components/schemas/Problem" {
					t.Errorf("%s: error %d is not a problem+json Problem", key, n)
				}
			}
			if success != 1 || errs == 0 {
				t.Errorf("%s: %d success and %d error responses", key, success, errs)
			}
			public := op["security"] != nil && len(op["security"].([]any)) == 0
			role, _ := op["x-min-role"].(string)
			switch {
			case public && role != "":
				t.Errorf("%s: public, yet x-min-role %q", key, role)
			case !public && role == "":
				t.Errorf("%s: needs credentials but states no x-min-role", key)
			case !public:
				for _, c := range []string{"401", "403"} {
					if responses[c] == nil {
						t.Errorf("%s: does not document %s", key, c)
					}
				}
			}
			if len(declared) > 0 && !public && responses["404"] == nil {
				t.Errorf("%s: has path parameters but no 404", key)
			}
			if op["requestBody"] != nil {
				for _, c := range []string{"400", "413", "422"} {
					if responses[c] == nil {
						t.Errorf("%s: takes a body but does not document %s", key, c)
					}
				}
			}
		}
	}
	if ops < 10 {
		t.Fatalf("only %d operations", ops)
	}
}
