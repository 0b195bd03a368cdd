package fleet

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A chart is a line chart over time drawn as inline SVG by the HTML
// template: all of its text goes through html/template's escaping.
type chart struct {
	Title  string
	YLabel string
	XLabel string
	W, H   float64 // the viewBox
	L, T   float64 // plot area: left, top, right, bottom edges
	R, B   float64
	XTicks []chartTick
	YTicks []chartTick
	Lines  []chartLine // drawn
	Rules  []chartRule // horizontal reference lines (thresholds, targets)
	Marks  []chartMark // vertical markers (end of the ramp-up)
	Legend []chartKey  // lines and rules, including ones not drawn
}

type chartTick struct {
	Pos   float64
	Label string
}

type chartLine struct {
	Color  string
	Dash   string // stroke-dasharray; "" for solid
	Points string // "x,y x,y ..." in viewBox coordinates
	Dots   []chartPoint
	Title  string
}

type chartPoint struct{ X, Y float64 }

type chartRule struct {
	Y      float64
	Color  string
	Label  string
	LabelX float64
}

type chartMark struct {
	X     float64
	Label string
}

type chartKey struct {
	Label string
	Color string
	Dash  string
	Note  string // "no data", "above the chart"
}

// chartSeries is one line's data before it is placed.
type chartSeries struct {
	Name  string
	Color string
	Dash  string
	Y     []float64 // one per sample
}

// chartRef is a horizontal reference line before it is placed.
type chartRef struct {
	Name  string
	Color string
	Y     float64
	Force bool // always widen the axis to show it
}

// Colours: the Tableau 10 palette, distinct and legible on white.
const (
	chartBlue   = "#4e79a7"
	chartOrange = "#f28e2b"
	chartRed    = "#e15759"
	chartGreen  = "#59a14f"
	chartPurple = "#b07aa1"
	chartTeal   = "#76b7b2"
	chartGrey   = "#8c8c8c"
)

// newReportChart places series over time t (seconds) on a chart of the given
// height (the width is fixed). yScale divides values for display (1000 for
// "kB/s").
func newReportChart(title, yLabel string, height float64, t []float64, ss []chartSeries, rules []chartRef, yScale, rampUp float64) *chart {
	c := &chart{Title: title, YLabel: yLabel, XLabel: "time since start (s)", W: 960, H: height, L: 64, T: 16, R: 944, B: height - 44}

	// X domain.
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, v := range t {
		if reportFinite(v) {
			xmin, xmax = math.Min(xmin, v), math.Max(xmax, v)
		}
	}
	if xmin > xmax {
		xmin, xmax = 0, 1
	}
	if xmin > 0 && xmin <= (xmax-xmin)/5 {
		xmin = 0 // the run's start, rather than its first sample
	}
	if xmax-xmin < 1e-9 {
		xmin, xmax = xmin-0.5, xmax+0.5
	}
	xstep := chartStep((xmax - xmin) / 8)
	if xmax-xmin > 600 {
		c.XLabel = "time since start (min:s)"
		for _, m := range []float64{60, 120, 300, 600, 900, 1800, 3600, 7200, 14400} {
			xstep = m // whole minutes, then whole hours
			if m >= (xmax-xmin)/8 {
				break
			}
		}
	}

	// Y domain: from 0 to the data's maximum, widened for reference lines
	// that are not far above the data (a 50 ms threshold over 2 ms of data
	// would flatten it; such a line is listed as above the chart instead).
	ymax := 0.0
	hasData := make([]bool, len(ss))
	for i, s := range ss {
		for j, v := range s.Y {
			if j < len(t) && reportFinite(v) {
				ymax = math.Max(ymax, v)
				if v != 0 {
					hasData[i] = true
				}
			}
		}
	}
	dataMax := ymax
	for _, r := range rules {
		if reportFinite(r.Y) && r.Y > 0 && (r.Force || dataMax == 0 || r.Y <= 2*dataMax) {
			ymax = math.Max(ymax, r.Y)
		}
	}
	if ymax <= 0 {
		ymax = 1
	}
	ystep := chartStep(ymax / yScale / 5)
	ytop := math.Ceil(ymax/yScale/ystep-1e-9) * ystep
	if ytop*yScale < ymax*1.04 { // headroom: lines at the very top are hard to read
		ytop += ystep
	}
	ytop *= yScale
	ystep *= yScale

	px := func(x float64) float64 { return c.L + (x-xmin)/(xmax-xmin)*(c.R-c.L) }
	py := func(y float64) float64 { return c.B - y/ytop*(c.B-c.T) }

	if rampUp > xmin && rampUp < xmax {
		c.Marks = append(c.Marks, chartMark{chartRound(px(rampUp)), "ramp-up ends"})
	}
	for x := math.Ceil(xmin/xstep-1e-9) * xstep; x <= xmax+1e-9; x += xstep {
		c.XTicks = append(c.XTicks, chartTick{chartRound(px(x)), chartTimeLabel(x, xstep, xmax-xmin > 600)})
	}
	for y := 0.0; y <= ytop+ystep/1e6; y += ystep {
		c.YTicks = append(c.YTicks, chartTick{chartRound(py(y)), chartTickLabel(y/yScale, ystep/yScale)})
	}

	for i, s := range ss {
		key := chartKey{Label: s.Name, Color: s.Color, Dash: s.Dash}
		if !hasData[i] {
			key.Note = "no data"
			c.Legend = append(c.Legend, key)
			continue
		}
		c.Legend = append(c.Legend, key)
		line := chartLine{Color: s.Color, Dash: s.Dash, Title: s.Name}
		var b strings.Builder
		n := 0
		for j, v := range s.Y {
			if j >= len(t) || !reportFinite(v) || !reportFinite(t[j]) {
				continue
			}
			if n > 0 {
				b.WriteByte(' ')
			}
			x, y := chartRound(px(t[j])), chartRound(py(v))
			b.WriteString(strconv.FormatFloat(x, 'f', -1, 64) + "," + strconv.FormatFloat(y, 'f', -1, 64))
			n++
			if n == 1 {
				line.Dots = []chartPoint{{x, y}}
			}
		}
		if n > 1 {
			line.Dots = nil // a single sample is a dot, more are a line
		}
		line.Points = b.String()
		c.Lines = append(c.Lines, line)
	}
	for _, r := range rules {
		key := chartKey{Label: r.Name, Color: r.Color, Dash: "6 4"}
		if !reportFinite(r.Y) || r.Y < 0 || r.Y > ytop {
			key.Note = "above the chart"
		} else {
			c.Rules = append(c.Rules, chartRule{Y: chartRound(py(r.Y)), Color: r.Color, Label: r.Name, LabelX: c.R - 4})
		}
		c.Legend = append(c.Legend, key)
	}
	return c
}

// chartStep is the 1, 2 or 5 times a power of ten nearest above raw.
func chartStep(raw float64) float64 {
	if !(raw > 0) || !reportFinite(raw) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw*0.999 {
			return m * p
		}
	}
	return 10 * p
}

// chartTickLabel formats a tick value with as many decimals as the step needs.
func chartTickLabel(v, step float64) string {
	if v == 0 {
		v = 0 // not "-0"
	}
	d := 0
	for s := step; d < 6 && math.Abs(s-math.Round(s)) > 1e-9*math.Max(1, s); s *= 10 {
		d++
	}
	if math.Abs(v) >= 1e4 && d == 0 {
		return reportInt(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

func chartTimeLabel(sec, step float64, minutes bool) string {
	if !minutes {
		return chartTickLabel(sec, step)
	}
	s := int(math.Round(sec))
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func chartRound(v float64) float64 { return math.Round(v*10) / 10 }

func reportFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// reportCharts are the HTML page's charts over r.Series; none if it is empty.
func (r *Report) reportCharts() []*chart {
	if len(r.Series) == 0 {
		return nil
	}
	n := len(r.Series)
	t := make([]float64, n)
	col := func(get func(Sample) float64) []float64 {
		out := make([]float64, n)
		for i, s := range r.Series {
			out[i] = get(s)
		}
		return out
	}
	for i, s := range r.Series {
		t[i] = s.T
	}

	// (a) Latency percentiles, with the latency thresholds that match a line.
	lat := []chartSeries{
		{"rtt p50", chartBlue, "5 3", col(func(s Sample) float64 { return s.RTTP50 })},
		{"rtt p99", chartBlue, "", col(func(s Sample) float64 { return s.RTTP99 })},
		{"ack p99", chartOrange, "", col(func(s Sample) float64 { return s.AckP99 })},
		{"interarrival p99", chartGreen, "", col(func(s Sample) float64 { return s.InterP99 })},
		{"delivery p99", chartPurple, "", col(func(s Sample) float64 { return s.DeliveryP99 })},
	}
	var latRules []chartRef
	if ts, err := ParseSLO(r.Scenario.SLO); err == nil {
		for _, th := range ts {
			if th.Stat != "p50" && th.Stat != "p99" || !(th.Op == "<" || th.Op == "<=") {
				continue
			}
			if th.Stat == "p50" && th.Metric != "rtt" || th.Metric == "spectator_delay" {
				continue // no such line
			}
			v := th.Value
			if th.Unit == "tick" {
				if r.TickRate <= 0 {
					continue
				}
				v *= 1000 / float64(r.TickRate)
			}
			name := "SLO " + th.String()
			if th.Unit == "tick" {
				name += " (" + reportNum(v) + " ms)"
			}
			latRules = append(latRules, chartRef{Name: name, Color: chartRed, Y: v})
		}
	}
	ramp := time.Duration(r.Scenario.RampUp).Seconds() // the series starts with the ramp-up
	a := newReportChart("Latency percentiles per second", "ms", 330, t, lat, latRules, 1, ramp)

	// (b) Connections.
	conn := []chartSeries{
		{"players connected", chartBlue, "", col(func(s Sample) float64 { return float64(s.Connected) })},
		{"spectators", chartOrange, "", col(func(s Sample) float64 { return float64(s.Spectators) })},
	}
	var connRules []chartRef
	if p := r.Counts.Players; p > 0 {
		connRules = append(connRules, chartRef{Name: fmt.Sprintf("players asked for (%d)", p), Color: chartBlue, Y: float64(p), Force: true})
	}
	if s := r.Counts.Spectators; s > 0 {
		connRules = append(connRules, chartRef{Name: fmt.Sprintf("spectators asked for (%d)", s), Color: chartOrange, Y: float64(s), Force: true})
	}
	for i := range connRules {
		connRules[i].Color = chartGrey
	}
	b := newReportChart("Connected players and spectators", "connections", 260, t, conn, connRules, 1, ramp)

	// (c) Traffic: bytes/s and snapshots/s, on charts of their own (their
	// scales have nothing in common).
	bytes := col(func(s Sample) float64 { return s.BytesPS })
	scale, unit := 1.0, "B/s"
	bmax := 0.0
	for _, v := range bytes {
		if reportFinite(v) {
			bmax = math.Max(bmax, v)
		}
	}
	switch {
	case bmax >= 1e9:
		scale, unit = 1e9, "GB/s"
	case bmax >= 1e6:
		scale, unit = 1e6, "MB/s"
	case bmax >= 1e3:
		scale, unit = 1e3, "kB/s"
	}
	c := newReportChart("Bytes received per second (all bots)", unit, 240, t, []chartSeries{{"bytes/s received", chartTeal, "", bytes}}, nil, scale, ramp)
	snaps := []chartSeries{{"snapshots/s received", chartPurple, "", col(func(s Sample) float64 { return s.SnapshotsPS })}}
	if r.TickRate > 0 {
		snaps = append(snaps, chartSeries{fmt.Sprintf("expected: connected players × %d Hz", r.TickRate), chartGrey, "6 4",
			col(func(s Sample) float64 { return float64(s.Connected * r.TickRate) })})
	}
	d := newReportChart("Snapshots received per second (all players)", "snapshots/s", 240, t, snaps, nil, 1, ramp)
	cs := []*chart{a, b, c, d}

	// Errors, on a small chart of their own when there are any (next to
	// hundreds of connections they would be a flat line at 0).
	errs := col(func(s Sample) float64 { return float64(s.Errors) })
	for _, v := range errs {
		if v != 0 {
			cs = append(cs, newReportChart("Errors (running total)", "errors", 180, t, []chartSeries{{"errors so far", chartRed, "", errs}}, nil, 1, ramp))
			break
		}
	}
	return cs
}
