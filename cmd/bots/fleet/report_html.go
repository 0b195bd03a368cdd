package fleet

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
)

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and inline SVG charts, no scripts, fonts or styles from the network. It
// shows the verdict and the thresholds not met, the same facts as
// WriteTable, and charts over r.Series: latency percentiles, connections,
// bytes/s and snapshots/s.
func (r *Report) WriteHTML(w io.Writer) error {
	rr := r.finiteCopy()
	pass, why := rr.reportVerdict()
	scen, err := json.MarshalIndent(rr.Scenario, "", "  ")
	if err != nil {
		return err
	}
	var sections []reportHTMLSection
	for _, f := range rr.reportFacts() {
		if len(sections) == 0 || sections[len(sections)-1].Title != f.Section {
			sections = append(sections, reportHTMLSection{Title: f.Section})
		}
		s := &sections[len(sections)-1]
		s.Facts = append(s.Facts, f)
	}
	data := reportHTMLData{
		Title:        "tickstream bots: " + map[bool]string{true: "PASS", false: "FAIL"}[pass],
		Headline:     sections[0].Facts[0].Value,
		Pass:         pass,
		Why:          why,
		Breaches:     make([]string, len(rr.Breaches)),
		Tiles:        rr.reportTiles(),
		Scenario:     sections[0],
		Sections:     sections[1:],
		Latencies:    rr.reportLatencyRows(),
		Charts:       rr.reportCharts(),
		ScenarioJSON: string(scen),
	}
	for i, b := range rr.Breaches {
		data.Breaches[i] = reportPrintable(b)
	}
	if !rr.Started.IsZero() {
		data.Started = rr.Started.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return reportHTMLTemplate.Execute(w, data)
}

type reportHTMLData struct {
	Title, Headline, Started string
	Pass                     bool
	Why                      string
	Breaches                 []string
	Tiles                    []reportHTMLTile
	Scenario                 reportHTMLSection
	Sections                 []reportHTMLSection
	Latencies                []reportLatencyRow
	Charts                   []*chart
	ScenarioJSON             string
}

type reportHTMLSection struct {
	Title string
	Facts []reportFact
}

// reportHTMLTile is one key figure at the top of the page.
type reportHTMLTile struct {
	Label, Value, Sub string
	Bad               bool
}

func (r *Report) reportTiles() []reportHTMLTile {
	c := r.Counts
	t := []reportHTMLTile{{
		Label: "players connected",
		Value: fmt.Sprintf("%s/%s", reportInt(int64(c.Connected)), reportInt(int64(c.Players))),
		Sub:   fmt.Sprintf("%s failed", reportInt(int64(c.Failed))),
		Bad:   c.Connected < c.Players,
	}}
	if c.Spectators > 0 {
		t = append(t, reportHTMLTile{
			Label: "spectators ok",
			Value: fmt.Sprintf("%s/%s", reportInt(int64(c.SpectatorsOK)), reportInt(int64(c.Spectators))),
			Bad:   c.SpectatorsOK < c.Spectators,
		})
	}
	t = append(t, reportHTMLTile{Label: "errors", Value: reportInt(int64(c.Errors)), Bad: c.Errors > 0,
		Sub: "disconnects " + reportInt(int64(reportDisconnects(c.Disconnects)))})
	if d, ok := reportDist(r.Latencies, "rtt"); ok && d.Count > 0 {
		t = append(t, reportHTMLTile{Label: "rtt p99", Value: reportMS(d.P99) + " ms", Sub: "p50 " + reportMS(d.P50) + " ms"})
	}
	if r.TickRate > 0 {
		t = append(t, reportHTMLTile{Label: "snapshot rate, worst player", Value: reportNum(c.SnapshotRatePct) + "%",
			Sub: fmt.Sprintf("of %d Hz; mean %s/s", r.TickRate, reportNum(c.SnapshotRateMean))})
	}
	t = append(t, reportHTMLTile{Label: "bytes/s per player", Value: reportBytesPS(r.Bytes.PerPlayer),
		Sub: "per spectator " + reportBytesPS(r.Bytes.PerSpectator)})
	return t
}

// The page is written as well-formed XHTML-style markup (every element
// closed) so that tests can check it with encoding/xml.
var reportHTMLTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"add": func(a, b float64) float64 { return chartRound(a + b) },
	"sub": func(a, b float64) float64 { return chartRound(a - b) },
	"mid": func(a, b float64) float64 { return chartRound((a + b) / 2) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
:root { --fg: #1d2330; --muted: #5f6b7a; --line: #dde2e8; --bg: #f6f7f9; --pass: #2e7d32; --fail: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 10px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; margin: 0 0 16px; }
.verdict { border-left: 8px solid; }
.verdict.pass { border-color: var(--pass); }
.verdict.fail { border-color: var(--fail); }
.verdict .word { font-size: 24px; font-weight: 700; letter-spacing: .04em; margin-right: 12px; }
.verdict.pass .word { color: var(--pass); }
.verdict.fail .word { color: var(--fail); }
.verdict ul { margin: 8px 0 0; padding-left: 20px; }
.verdict li { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 0 0 16px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 0; overflow-wrap: anywhere; }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.tile .value { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile.bad .value { color: var(--fail); }
.tile .tsub { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(330px, 1fr)); gap: 16px; }
.grid .card { margin: 0; }
table { border-collapse: collapse; width: 100%; }
table.kv th { text-align: left; font-weight: 600; color: var(--muted); white-space: nowrap; padding: 3px 14px 3px 0; vertical-align: top; width: 1%; }
table.kv td { padding: 3px 0; overflow-wrap: anywhere; }
table.lat th, table.lat td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; font-variant-numeric: tabular-nums; }
table.lat th:first-child, table.lat td:first-child { text-align: left; }
table.lat thead th { color: var(--muted); font-weight: 600; }
table.lat tr.empty td { color: var(--muted); }
.chart { margin-top: 14px; }
.chart h3 { font-size: 14px; margin: 0 0 6px; }
.legend { list-style: none; margin: 0 0 4px; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 18px; font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend .note { color: var(--muted); font-style: italic; }
svg.plot { width: 100%; height: auto; display: block; }
svg.plot text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--muted); }
svg.plot .grid { stroke: #eceff3; stroke-width: 1; }
svg.plot .axis { stroke: #9aa4b0; stroke-width: 1; }
svg.plot .data { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg.plot .rule { stroke-width: 1.5; }
svg.plot .mark { stroke: #b8c0ca; stroke-width: 1; stroke-dasharray: 2 3; }
svg.plot text.marklabel { font-size: 11px; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; paint-order: stroke; }
svg.plot text.rulelabel { font-size: 11px; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; paint-order: stroke; }
.note { color: var(--muted); }
pre { background: var(--bg); padding: 10px; border-radius: 6px; overflow: auto; font-size: 12px; }
details summary { cursor: pointer; color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
</style>
</head>
<body>
<h1>Load test report</h1>
<p class="sub">{{.Headline}}{{with .Started}} · started {{.}}{{end}}</p>

<section class="card verdict {{if .Pass}}pass{{else}}fail{{end}}">
<span class="word">{{if .Pass}}PASS{{else}}FAIL{{end}}</span><span>{{.Why}}</span>
{{- if .Breaches}}
<ul>{{range .Breaches}}
<li>{{.}}</li>{{end}}
</ul>
{{- end}}
</section>

<div class="tiles">{{range .Tiles}}
<div class="tile{{if .Bad}} bad{{end}}"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div>{{with .Sub}}<div class="tsub">{{.}}</div>{{end}}</div>{{end}}
</div>

<section class="card">
<h2>{{.Scenario.Title}}</h2>
<table class="kv">{{range .Scenario.Facts}}
<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>{{end}}
</table>
</section>

<div class="grid">{{range .Sections}}
<section class="card">
<h2>{{.Title}}</h2>
<table class="kv">{{range .Facts}}
<tr><th>{{.Key}}</th><td>{{.Value}}</td></tr>{{end}}
</table>
</section>{{end}}
</div>

<section class="card" style="margin-top: 16px">
<h2>Latency (ms, whole run)</h2>
{{- if .Latencies}}
<table class="lat">
<thead><tr><th>distribution</th><th>count</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead>
<tbody>{{range .Latencies}}
<tr{{if .Empty}} class="empty"{{end}}><td>{{.Name}}</td><td>{{.Count}}</td><td>{{.Mean}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td>{{.P99}}</td><td>{{.Max}}</td></tr>{{end}}
</tbody>
</table>
{{- else}}
<p class="note">No latency distributions were recorded.</p>
{{- end}}
</section>

<section class="card">
<h2>Over time</h2>
{{- if .Charts}}{{range .Charts}}
<div class="chart">
<h3>{{.Title}}</h3>
<ul class="legend">{{range .Legend}}
<li><svg width="28" height="10" aria-hidden="true"><line x1="1" y1="5" x2="27" y2="5" stroke="{{.Color}}" stroke-width="2.5"{{with .Dash}} stroke-dasharray="{{.}}"{{end}}/></svg>{{.Label}}{{with .Note}} <span class="note">({{.}})</span>{{end}}</li>{{end}}
</ul>
<svg class="plot" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Title}}">
{{- $c := .}}
<rect x="{{.L}}" y="{{.T}}" width="{{sub .R .L}}" height="{{sub .B .T}}" fill="#fff"/>
{{- range .YTicks}}
<line class="grid" x1="{{$c.L}}" y1="{{.Pos}}" x2="{{$c.R}}" y2="{{.Pos}}"/><text x="{{sub $c.L 8}}" y="{{add .Pos 4}}" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .XTicks}}
<line class="axis" x1="{{.Pos}}" y1="{{$c.B}}" x2="{{.Pos}}" y2="{{add $c.B 5}}"/><text x="{{.Pos}}" y="{{add $c.B 19}}" text-anchor="middle">{{.Label}}</text>
{{- end}}
<line class="axis" x1="{{.L}}" y1="{{.B}}" x2="{{.R}}" y2="{{.B}}"/>
<line class="axis" x1="{{.L}}" y1="{{.T}}" x2="{{.L}}" y2="{{.B}}"/>
<text x="{{mid .L .R}}" y="{{sub .H 6}}" text-anchor="middle">{{.XLabel}}</text>
<text transform="translate(16 {{mid .T .B}}) rotate(-90)" text-anchor="middle">{{.YLabel}}</text>
{{- range .Marks}}
<line class="mark" x1="{{.X}}" y1="{{$c.T}}" x2="{{.X}}" y2="{{$c.B}}"/><text class="marklabel" x="{{add .X 4}}" y="{{add $c.T 11}}">{{.Label}}</text>
{{- end}}
{{- range .Rules}}
<line class="rule" x1="{{$c.L}}" y1="{{.Y}}" x2="{{$c.R}}" y2="{{.Y}}" stroke="{{.Color}}" stroke-dasharray="6 4"/><text class="rulelabel" x="{{.LabelX}}" y="{{sub .Y 4}}" text-anchor="end">{{.Label}}</text>
{{- end}}
{{- range .Lines}}
<polyline class="data" points="{{.Points}}" stroke="{{.Color}}"{{with .Dash}} stroke-dasharray="{{.}}"{{end}}><title>{{.Title}}</title></polyline>
{{- $l := .}}{{range .Dots}}
<circle cx="{{.X}}" cy="{{.Y}}" r="3.5" fill="{{$l.Color}}"/>{{end}}
{{- end}}
</svg>
</div>{{end}}
{{- else}}
<p class="note">No time series: the run recorded no per-second samples.</p>
{{- end}}
</section>

<details class="card">
<summary>Scenario as JSON</summary>
<pre>{{.ScenarioJSON}}</pre>
</details>

<footer>tickstream bots · self-contained page: no scripts, no network</footer>
</body>
</html>
`))
