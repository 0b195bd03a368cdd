// Package static embeds the browser client: the play page and its bundle.
//
// The TypeScript sources are in src/; `npm run build` (run by make) writes
// dist/app.js, which is committed so that `go build` and `go test ./...` work
// without Node.js.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
)

//go:embed index.html dist
var files embed.FS

// asset is one embedded file served by Handler.
type asset struct {
	name        string // path inside files
	contentType string
	etag        string // strong validator; embedded files have no modification time
}

var (
	indexPage = newAsset("index.html", "text/html; charset=utf-8")
	appBundle = newAsset("dist/app.js", "text/javascript; charset=utf-8")
)

func newAsset(name, contentType string) asset {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		panic("static: missing embedded file " + name + ": " + err.Error())
	}
	sum := sha256.Sum256(b)
	return asset{name: name, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Handler serves the play page at "/" and the bundle at "/dist/app.js";
// every other path is 404. Mount it at "/" (it only answers GET and HEAD).
// Responses carry Cache-Control: no-cache with an ETag, so a browser
// revalidates and always runs the bundle that matches the server.
func Handler() http.Handler {
	// FileServerFS serves "/" as index.html and "/dist/app.js" as itself;
	// the mux keeps it to those two paths (no directory listings).
	fileServer := http.FileServerFS(files)
	serve := func(a asset) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", a.contentType)
			h.Set("Cache-Control", "no-cache")
			h.Set("ETag", a.etag)
			h.Set("X-Content-Type-Options", "nosniff")
			fileServer.ServeHTTP(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", serve(indexPage))
	mux.HandleFunc("GET /dist/app.js", serve(appBundle))
	return mux
}
