package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH                     = 720, 420
	marginL, marginR, marginT, marginB = 70, 180, 40, 50
	plotW, plotH                       = chartW - marginL - marginR, chartH - marginT - marginB
)

var chartColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// svgChart accumulates one chart.
type svgChart struct {
	b strings.Builder
}

func newChart(title string) *svgChart {
	c := &svgChart{}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&c.b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&c.b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, esc(title))
	fmt.Fprintf(&c.b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", marginL, marginT, plotW, plotH)
	return c
}

// xTick and yTick draw a grid line and its label at a plot coordinate.
func (c *svgChart) xTick(x float64, label string) {
	fmt.Fprintf(&c.b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, marginT, x, marginT+plotH)
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, marginT+plotH+18, esc(label))
}

func (c *svgChart) yTick(y float64, label string) {
	fmt.Fprintf(&c.b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, y, marginL+plotW, y)
	fmt.Fprintf(&c.b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginL-6, y+4, esc(label))
}

func (c *svgChart) axisLabels(x, y string) {
	fmt.Fprintf(&c.b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", marginL+plotW/2, chartH-10, esc(x))
	fmt.Fprintf(&c.b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", marginT+plotH/2, esc(y))
}

// line draws a polyline with optional point markers and a legend entry.
func (c *svgChart) line(i int, name string, xs, ys []float64, markers bool) {
	color := chartColors[i%len(chartColors)]
	pts := make([]string, len(xs))
	for j := range xs {
		pts[j] = fmt.Sprintf("%.1f,%.1f", xs[j], ys[j])
	}
	fmt.Fprintf(&c.b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
	if markers {
		for j := range xs {
			fmt.Fprintf(&c.b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", xs[j], ys[j], color)
		}
	}
	ly := marginT + 10 + 20*i
	fmt.Fprintf(&c.b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", marginL+plotW+12, ly, marginL+plotW+32, ly, color)
	fmt.Fprintf(&c.b, `<text x="%d" y="%d">%s</text>`+"\n", marginL+plotW+38, ly+4, esc(name))
}

func (c *svgChart) finish(w io.Writer) error {
	c.b.WriteString("</svg>\n")
	_, err := io.WriteString(w, c.b.String())
	return err
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// WriteLatencySVG draws the distribution of every latency series as a
// cumulative curve on a logarithmic time axis.
func (r *Results) WriteLatencySVG(w io.Writer) error {
	c := newChart("Latency distribution (share of operations done within a time)")
	lo, hi := math.Inf(1), 0.0
	for _, s := range r.Latencies {
		for _, v := range s.Millis {
			if v > 0 {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	xOf := func(v float64) float64 {
		return marginL + plotW*(math.Log10(max(v, lo))-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))
	}
	yOf := func(f float64) float64 { return marginT + plotH*(1-f) }
	for d := lo; d <= hi*1.001; d *= 10 {
		c.xTick(xOf(d), formatMillis(d))
	}
	for f := 0.0; f <= 1.001; f += 0.25 {
		c.yTick(yOf(f), fmt.Sprintf("%.0f%%", f*100))
	}
	c.axisLabels("latency (log scale)", "operations done")
	for i, s := range r.Latencies {
		v := slices.Clone(s.Millis)
		slices.Sort(v)
		// At most ~400 points per curve, always the last.
		step := max(len(v)/400, 1)
		var xs, ys []float64
		for j := 0; j < len(v); j += step {
			xs, ys = append(xs, xOf(v[j])), append(ys, yOf(float64(j+1)/float64(len(v))))
		}
		if n := len(v); n > 0 && (n-1)%step != 0 {
			xs, ys = append(xs, xOf(v[n-1])), append(ys, yOf(1))
		}
		c.line(i, fmt.Sprintf("%s, c=%d (n=%d)", s.Op, s.Concurrency, len(v)), xs, ys, false)
	}
	return c.finish(w)
}

// WriteThroughputSVG draws each operation's rate against concurrency.
func (r *Results) WriteThroughputSVG(w io.Writer) error {
	c := newChart("Throughput against concurrency")
	var cs []int
	var ops []string
	top := 0.0
	for _, p := range r.Throughput {
		if !slices.Contains(cs, p.Concurrency) {
			cs = append(cs, p.Concurrency)
		}
		if !slices.Contains(ops, p.Op) {
			ops = append(ops, p.Op)
		}
		top = max(top, p.PerSecond)
	}
	slices.Sort(cs)
	top = niceCeil(top)
	xOf := func(conc int) float64 {
		i := slices.Index(cs, conc)
		if len(cs) == 1 {
			return marginL + plotW/2
		}
		return marginL + 30 + float64(plotW-60)*float64(i)/float64(len(cs)-1)
	}
	yOf := func(v float64) float64 { return marginT + plotH*(1-v/top) }
	for _, conc := range cs {
		c.xTick(xOf(conc), fmt.Sprint(conc))
	}
	for i := 0; i <= 5; i++ {
		v := top * float64(i) / 5
		c.yTick(yOf(v), fmt.Sprintf("%.4g", v))
	}
	c.axisLabels("concurrent third-party workers (one user and device each)", "operations per second")
	for i, op := range ops {
		var xs, ys []float64
		for _, p := range r.Throughput {
			if p.Op == op {
				xs, ys = append(xs, xOf(p.Concurrency)), append(ys, yOf(p.PerSecond))
			}
		}
		c.line(i, op+" per second", xs, ys, true)
	}
	return c.finish(w)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func formatMillis(ms float64) string {
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%g s", ms/1000)
	case ms < 1:
		return fmt.Sprintf("%g µs", ms*1000)
	}
	return fmt.Sprintf("%g ms", ms)
}
