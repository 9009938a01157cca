package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/cloud/qrsheet"
	"github.com/pantry/pantry/internal/pantry"
)

// QR codes to print: a site's rooms (or one floor's) as a PDF of cut-out
// cards on A4 or Letter, the same as one SVG, and one room's code as a
// PNG (cloud/qrsheet draws them). Each code encodes the room's qr_url.
// The same rooms make the same bytes, so each answer carries an ETag of
// its content and a browser that has it gets 304. Reading the rooms is
// a read of the site (ActionRead), as GET /api/v1/sites/:site_id/spaces.

// roomPNGSize is the width of a room's PNG: sharp on a printed sign.
const roomPNGSize = 600

func (a *app) handleSiteQRPDF(c *fiber.Ctx) error {
	v := viewOf(c)
	paper, err := qrsheet.ParsePaper(c.Query("paper"))
	if err != nil {
		return a.errorPage(c, v, pantry.Errorf(pantry.EINVALID, "unknown paper size %q: choose a4 or letter", c.Query("paper")))
	}
	sheet, name, err := a.qrSheet(c, v)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	pdf, err := a.qrSheets.PDF(sheet, paper)
	if err != nil {
		return a.errorPage(c, v, fmt.Errorf("QR sheet of site %s: %w", c.Params("site_id"), err))
	}
	return sendQR(c, pdf, "application/pdf", "attachment", name+"-"+paper.String()+".pdf")
}

func (a *app) handleSiteQRSVG(c *fiber.Ctx) error {
	v := viewOf(c)
	sheet, name, err := a.qrSheet(c, v)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	svg, err := a.qrSheets.SVG(sheet)
	if err != nil {
		return a.errorPage(c, v, fmt.Errorf("QR sheet of site %s: %w", c.Params("site_id"), err))
	}
	return sendQR(c, svg, "image/svg+xml", "inline", name+".svg")
}

func (a *app) handleRoomQRPNG(c *fiber.Ctx) error {
	v := viewOf(c)
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionRead, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	sp, err := a.Sites.GetSpace(ctx, p.OrgID, siteID, c.Params("space_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	var buf bytes.Buffer
	if err := qrsheet.PNG(&buf, qrsheet.Room{Name: sp.Name, Floor: sp.Floor, URL: a.roomURL(sp)}, roomPNGSize); err != nil {
		return a.errorPage(c, v, fmt.Errorf("QR code of room %s: %w", sp.ID, err))
	}
	return sendQR(c, buf.Bytes(), "image/png", "inline", "qr-"+fileWord(sp.Name, "room")+".png")
}

// qrSheet reads the sheet of the site the path names: its rooms in use,
// only those of ?floor= if given, titled with the organization and the
// site; and the file name to give it ("qr-acme-hq-floor-3").
func (a *app) qrSheet(c *fiber.Ctx, v *view) (qrsheet.Sheet, string, error) {
	p := v.principal()
	siteID, floor := c.Params("site_id"), strings.TrimSpace(c.Query("floor"))
	if err := p.Can(auth.ActionRead, siteID); err != nil {
		return qrsheet.Sheet{}, "", err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.Sites.GetSite(ctx, p.OrgID, siteID)
	if err != nil {
		return qrsheet.Sheet{}, "", err
	}
	rooms, err := a.siteRooms(ctx, p.OrgID, site.ID)
	if err != nil {
		return qrsheet.Sheet{}, "", err
	}
	sheet := qrsheet.Sheet{Title: v.Session.OrgName + " · " + site.Name}
	for _, r := range rooms {
		if r.ArchivedAt == nil && (floor == "" || r.Floor == floor) {
			sheet.Rooms = append(sheet.Rooms, qrsheet.Room{Name: r.Name, Floor: r.Floor, URL: r.QRURL})
		}
	}
	name := "qr-" + fileWord(site.Name, "site")
	if floor != "" {
		if len(sheet.Rooms) == 0 {
			return qrsheet.Sheet{}, "", pantry.Errorf(pantry.ENOTFOUND, "no room of %s is on floor %q", site.Name, floor)
		}
		sheet.Title += " · " + floorText(floor)
		name += "-" + fileWord(floorText(floor), "floor")
	}
	return sheet, name, nil
}

// sendQR answers a QR file with an ETag of its content: 304 if the
// browser has it. It is the person's own (private), checked again each
// time (no-cache): a room's code can be rotated at any moment.
func sendQR(c *fiber.Ctx, body []byte, contentType, disposition, filename string) error {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderContentDisposition, disposition+`; filename="`+filename+`"`)
	return c.Send(body)
}

// etagMatches reports whether an If-None-Match header names etag (weak
// or strong, as RFC 9110 compares for GET) or is "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// fileWord makes text a file name's word: lower-case ASCII letters and
// digits, other runs as one "-"; fallback if nothing is left ("Zürich
// HQ" gives "z-rich-hq").
func fileWord(text, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(text) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return fallback
	}
	return b.String()
}
