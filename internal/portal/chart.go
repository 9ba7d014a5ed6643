package portal

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/store"
)

// The charts are SVG drawn here, on the server: no script, no library, and
// they print. Only numbers and times this file formats go into the markup.

// bar is one time bucket of a chart.
type bar struct {
	Start                      time.Time
	Succeeded, Failed, Waiting int
}

func (b bar) total() int     { return b.Succeeded + b.Failed + b.Waiting }
func (b bar) attempted() int { return b.Succeeded + b.Failed }

// chart is a bar chart of volume (succeeded, failing, waiting stacked) with
// the failure rate drawn over it as a line.
type chart struct {
	Bars    []bar
	Step    time.Duration
	Compact bool // a sparkline: no axes or labels
	// Unit names what a bar counts: "deliveries" or "attempts".
	Unit string
}

// Total sums the chart.
func (c chart) Total() (succeeded, failed, waiting int) {
	for _, b := range c.Bars {
		succeeded, failed, waiting = succeeded+b.Succeeded, failed+b.Failed, waiting+b.Waiting
	}
	return
}

// Empty is whether the chart has nothing to show: a page says what to do
// instead of drawing empty axes.
func (c chart) Empty() bool {
	s, f, w := c.Total()
	return s+f+w == 0
}

// Summary is the chart in words, for screen readers and the page itself.
func (c chart) Summary() string {
	s, f, w := c.Total()
	rate := "no attempts yet"
	if s+f > 0 {
		rate = fmt.Sprintf("%.1f%% failing", 100*float64(f)/float64(s+f))
	}
	return fmt.Sprintf("%d %s: %d succeeded, %d failing, %d not yet attempted (%s)", s+f+w, c.Unit, s, f, w, rate)
}

// hourly builds the 24-hour chart of deliveries from the store's counts,
// for one endpoint or (endpointID "") all of them.
func hourly(counts []store.DeliveryCount, since time.Time, n int, endpointID string) chart {
	c := chart{Bars: make([]bar, n), Step: time.Hour, Unit: "deliveries"}
	for i := range c.Bars {
		c.Bars[i].Start = since.Add(time.Duration(i) * time.Hour)
	}
	for _, d := range counts {
		if d.Bucket < 0 || d.Bucket >= n || (endpointID != "" && d.EndpointID != endpointID) {
			continue
		}
		b := &c.Bars[d.Bucket]
		b.Succeeded += d.Succeeded
		b.Failed += d.Failed
		b.Waiting += d.Waiting
	}
	return c
}

// niceCeil rounds a maximum up to 1, 2 or 5 times a power of ten.
func niceCeil(v int) int {
	if v <= 0 {
		return 1
	}
	p := 1
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []int{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// SVG draws the chart.
func (c chart) SVG() template.HTML {
	w, h := 720.0, 200.0
	left, right, top, bottom := 44.0, 44.0, 10.0, 26.0
	if c.Compact {
		w, h = 240, 40
		left, right, top, bottom = 0, 0, 2, 2
	}
	pw, ph := w-left-right, h-top-bottom
	maxTotal := 0
	for _, b := range c.Bars {
		maxTotal = max(maxTotal, b.total())
	}
	scale := niceCeil(maxTotal)
	n := float64(max(1, len(c.Bars)))
	slot := pw / n
	bw := slot * 0.72
	y := func(v int) float64 { return top + ph - ph*float64(v)/float64(scale) }

	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart" viewBox="0 0 %.0f %.0f" preserveAspectRatio="none" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		w, h, template.HTMLEscapeString(c.Summary()))
	if !c.Compact {
		// Grid lines and the volume axis.
		for _, f := range []float64{0, 0.5, 1} {
			yy := top + ph - ph*f
			fmt.Fprintf(&s, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d9dee5" stroke-width="1"/>`, left, yy, left+pw, yy)
			fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end" fill="#4a5568">%d</text>`, left-6, yy+4, int(float64(scale)*f))
			fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" font-size="11" fill="#9c4221">%.0f%%</text>`, left+pw+6, yy+4, 100*f)
		}
	}
	var line []string
	for i, b := range c.Bars {
		x := left + slot*float64(i) + (slot-bw)/2
		base := 0
		s.WriteString(`<g>`)
		label := b.Start.UTC().Format("Jan 2 15:04")
		fmt.Fprintf(&s, `<title>%s: %d succeeded, %d failing, %d not yet attempted</title>`, label, b.Succeeded, b.Failed, b.Waiting)
		// An invisible full-height target so that the tooltip is reachable.
		fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="transparent"/>`, left+slot*float64(i), top, slot, ph)
		for _, part := range []struct {
			v     int
			color string
		}{{b.Succeeded, "#2f855a"}, {b.Failed, "#c53030"}, {b.Waiting, "#a0aec0"}} {
			if part.v == 0 {
				continue
			}
			y0, y1 := y(base), y(base+part.v)
			fmt.Fprintf(&s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, y1, bw, y0-y1, part.color)
			base += part.v
		}
		s.WriteString(`</g>`)
		if a := b.attempted(); a > 0 {
			rate := float64(b.Failed) / float64(a)
			line = append(line, fmt.Sprintf("%.1f,%.1f", left+slot*float64(i)+slot/2, top+ph-ph*rate))
		}
		if !c.Compact && len(c.Bars) > 1 && i%(max(1, len(c.Bars)/4)) == 0 {
			format := "15:04"
			fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" font-size="11" fill="#4a5568">%s</text>`, left+slot*float64(i), h-8, b.Start.UTC().Format(format))
		}
	}
	if len(line) > 0 {
		fmt.Fprintf(&s, `<polyline points="%s" fill="none" stroke="#dd6b20" stroke-width="2"/>`, strings.Join(line, " "))
		if !c.Compact {
			for _, pt := range line {
				xy := strings.Split(pt, ",")
				fmt.Fprintf(&s, `<circle cx="%s" cy="%s" r="2.5" fill="#dd6b20"/>`, xy[0], xy[1])
			}
		}
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}
