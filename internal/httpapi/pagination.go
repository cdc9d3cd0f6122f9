package httpapi

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-hq/switchboard/internal/store"
	"github.com/switchboard-hq/switchboard/internal/validation"
)

// Pagination limits (docs/concepts.md#conventions).
const (
	defaultPerPage = 50
	maxPerPage     = 500
)

// pageQuery is a parsed page / per_page / cursor request.
type pageQuery struct {
	Page    int // from 1; 0 in cursor mode
	PerPage int
	Cursor  *Cursor
}

// Cursor is a keyset position: the created_at and id of the last row
// returned. It is written "created_at|id" with millisecond precision.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// String renders the cursor as clients send it back.
func (c Cursor) String() string { return formatTime(c.CreatedAt) + "|" + c.ID }

// parseCursor parses "RFC3339|uuid".
func parseCursor(s string) (*Cursor, bool) {
	ts, id, ok := strings.Cut(s, "|")
	if !ok {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || !validation.TimeInRange(t) {
		return nil, false
	}
	if _, err := uuid.Parse(id); err != nil {
		return nil, false
	}
	return &Cursor{CreatedAt: t.UTC(), ID: strings.ToLower(id)}, true
}

// parsePage reads page, per_page and (when cursorOK) cursor from q.
// Lists that do not take cursors answer 400 to one.
func parsePage(q url.Values, cursorOK bool) (pageQuery, error) {
	pq := pageQuery{Page: 1, PerPage: defaultPerPage}
	if v := q.Get("per_page"); v != "" || q.Has("per_page") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPerPage {
			return pq, errBadField("per_page", "must be an integer between 1 and %d", maxPerPage)
		}
		pq.PerPage = n
	}
	hasPage, hasCursor := q.Has("page"), q.Has("cursor")
	if hasPage && hasCursor {
		return pq, errBadField("cursor", "send either page or cursor, not both")
	}
	if hasPage {
		n, err := strconv.Atoi(q.Get("page"))
		if err != nil || n < 1 {
			return pq, errBadField("page", "must be an integer of at least 1")
		}
		if n > maxPage(pq.PerPage) {
			return pq, errBadField("page", "must be at most %d with per_page %d", maxPage(pq.PerPage), pq.PerPage)
		}
		pq.Page = n
	}
	if hasCursor {
		if !cursorOK {
			return pq, errBadField("cursor", "this list does not take a cursor; use page")
		}
		c, ok := parseCursor(q.Get("cursor"))
		if !ok {
			return pq, errBadField("cursor", "must be \"created_at|id\" as returned in next_cursor")
		}
		pq.Cursor = c
		pq.Page = 0
	}
	return pq, nil
}

// maxOffset is the largest offset a list is asked for. The stores take
// 64-bit offsets; this bound keeps the offset and the one extra row a
// keyset list asks for (Limit = per_page + 1) clear of overflow, so no page
// number can wrap around to page 1's rows. Any page below it that has no
// rows is simply empty.
const maxOffset = math.MaxInt - 2*maxPerPage

// maxPage is the largest page whose offset (page-1)*perPage stays within
// maxOffset.
func maxPage(perPage int) int { return maxOffset/perPage + 1 }

// storePage converts an offset request for the store.
func (pq pageQuery) storePage() store.Page {
	return store.Page{Limit: pq.PerPage, Offset: (pq.Page - 1) * pq.PerPage}
}

// envelope is the paginated list shape.
type envelope[T any] struct {
	Data       []T     `json:"data"`
	Total      int     `json:"total"`
	Page       *int    `json:"page"`
	PerPage    int     `json:"per_page"`
	NextCursor *string `json:"next_cursor"`
}

// wholeList is the {"data": [...]} shape.
type wholeList[T any] struct {
	Data []T `json:"data"`
}

// offsetEnvelope builds the envelope of an offset-paginated list.
func offsetEnvelope[T any](pq pageQuery, data []T, total int) envelope[T] {
	if data == nil {
		data = []T{}
	}
	page := pq.Page
	return envelope[T]{Data: data, Total: total, Page: &page, PerPage: pq.PerPage}
}

// queryBool parses an optional boolean query parameter.
func queryBool(q url.Values, name string) (*bool, error) {
	if !q.Has(name) {
		return nil, nil
	}
	switch strings.ToLower(q.Get(name)) {
	case "true", "1":
		v := true
		return &v, nil
	case "false", "0":
		v := false
		return &v, nil
	}
	return nil, errBadField(name, "must be true or false")
}

// pathID parses an integer id from the path; anything else is 404.
func pathID(r *http.Request, name, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound(what)
	}
	return id, nil
}

// parseListQuery reads the pagination and sorting parameters of a list
// that takes cursors (events, runs, outbox actions, activity). sortable
// lists the accepted sort_by values; cursors need sort_by=created_at.
func parseListQuery(q url.Values, sortable []string) (store.ListQuery, pageQuery, error) {
	pq, err := parsePage(q, true)
	if err != nil {
		return store.ListQuery{}, pq, err
	}
	lq := store.ListQuery{SortBy: "created_at", Desc: true}
	if q.Has("sort_by") {
		v := q.Get("sort_by")
		ok := false
		for _, s := range sortable {
			ok = ok || v == s
		}
		if !ok {
			return lq, pq, errBadField("sort_by", "must be one of %s", strings.Join(sortable, ", "))
		}
		lq.SortBy = v
	}
	if q.Has("sort_order") {
		switch q.Get("sort_order") {
		case "asc":
			lq.Desc = false
		case "desc":
			lq.Desc = true
		default:
			return lq, pq, errBadField("sort_order", "must be asc or desc")
		}
	}
	// One row more than asked tells whether another page follows.
	lq.Limit = pq.PerPage + 1
	if pq.Cursor != nil {
		if lq.SortBy != "created_at" {
			return lq, pq, errBadField("cursor", "cursors work only with sort_by=created_at")
		}
		lq.AfterTime, lq.AfterID = &pq.Cursor.CreatedAt, pq.Cursor.ID
	} else {
		lq.Offset = (pq.Page - 1) * pq.PerPage
	}
	return lq, pq, nil
}

// keysetEnvelope trims the extra row parseListQuery asked for and sets
// next_cursor when more rows follow (and the list is sorted by
// created_at, the only order cursors follow).
func keysetEnvelope[T any](pq pageQuery, lq store.ListQuery, data []T, total int, cursorOf func(T) Cursor) envelope[T] {
	more := len(data) > pq.PerPage
	if more {
		data = data[:pq.PerPage]
	}
	if data == nil {
		data = []T{}
	}
	env := envelope[T]{Data: data, Total: total, PerPage: pq.PerPage}
	if pq.Cursor == nil {
		page := pq.Page
		env.Page = &page
	}
	if more && lq.SortBy == "created_at" && len(data) > 0 {
		c := cursorOf(data[len(data)-1]).String()
		env.NextCursor = &c
	}
	return env
}
