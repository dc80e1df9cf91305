package admin

import (
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSize is the side of the PNG QR code, in pixels.
const qrSize = 320

// qrImages encodes content as a QR code (medium error correction: a
// code printed on a badge or shown on a screen still scans when a
// little of it is lost), as a PNG and as an SVG document of the same
// modules.
func qrImages(content string) (png []byte, svg string, err error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, "", fmt.Errorf("encode QR code: %w", err)
	}
	png, err = q.PNG(qrSize)
	if err != nil {
		return nil, "", fmt.Errorf("encode QR code as PNG: %w", err)
	}
	return png, qrSVG(q.Bitmap()), nil
}

// qrSVG draws modules (true: dark; the quiet zone included) as one
// path, one horizontal run of dark modules per subpath, in a viewBox of
// one unit per module, so that it scales without blur.
func qrSVG(modules [][]bool) string {
	n := len(modules)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="QR code">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range modules {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start, y, x-start, x-start)
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}
