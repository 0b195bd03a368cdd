// Package static embeds the browser client: the play page, the watch page
// and their bundles.
//
// The TypeScript sources are in src/; `npm run build` (run by make) writes
// dist/app.js (play page) and dist/watch.js (watch page), which are
// committed so that `go build` and `go test ./...` work without Node.js.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"time"
)

//go:embed index.html watch.html favicon.svg dist
var files embed.FS

// asset is one embedded file served by Handler.
type asset struct {
	name        string // path inside files
	body        []byte
	contentType string
	etag        string // strong validator; embedded files have no modification time
}

var (
	indexPage   = newAsset("index.html", "text/html; charset=utf-8")
	appBundle   = newAsset("dist/app.js", "text/javascript; charset=utf-8")
	watchPage   = newAsset("watch.html", "text/html; charset=utf-8")
	watchBundle = newAsset("dist/watch.js", "text/javascript; charset=utf-8")
	favicon     = newAsset("favicon.svg", "image/svg+xml")
)

func newAsset(name, contentType string) asset {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		panic("static: missing embedded file " + name + ": " + err.Error())
	}
	sum := sha256.Sum256(b)
	return asset{name: name, body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Handler serves the play page at "/", the watch page at "/watch" and their
// bundles at "/dist/app.js" and "/dist/watch.js", and the icon at
// "/favicon.svg" and "/favicon.ico" (the same SVG: browsers that ask for the
// .ico by habit get it too); every other path is 404.
// Mount it at "/" (it only answers GET and HEAD). Responses carry
// Cache-Control: no-cache with an ETag, so a browser revalidates and always
// runs the bundle that matches the server.
func Handler() http.Handler {
	serve := func(a asset) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", a.contentType)
			h.Set("Cache-Control", "no-cache")
			h.Set("ETag", a.etag)
			h.Set("X-Content-Type-Options", "nosniff")
			// ServeContent answers HEAD, ranges and If-None-Match (against
			// the ETag above); the zero time sends no Last-Modified.
			http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", serve(indexPage))
	mux.HandleFunc("GET /dist/app.js", serve(appBundle))
	mux.HandleFunc("GET /watch", serve(watchPage))
	mux.HandleFunc("GET /dist/watch.js", serve(watchBundle))
	mux.HandleFunc("GET /favicon.svg", serve(favicon))
	mux.HandleFunc("GET /favicon.ico", serve(favicon))
	return mux
}
