package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// Listing by key. Runs and deliveries are keyed by (workspace_id, id),
// and an id begins with its row's created_at (RunID, DeliveryID): in a
// workspace, the key's order is the listing's (created_at, id) order, so
// the key serves the listing and no index of (workspace_id, created_at,
// id) is kept. The few rows whose created_at is not their id's time
// (Unordered: rows written before the key changed, ids a caller chose)
// carry an unordered mark and an index of their own. A page is two walks,
// merged: the ordered rows by key, the unordered ones by that index.

// keyPage is one listing page over a table aliased alias whose rows
// scan yields. selectFrom is the SELECT … FROM … part; where (starting
// " WHERE") filters with args, bound from $1.
type keyPage[T any] struct {
	selectFrom, where, alias string
	args                     []any
	scan                     func(Scanner) (T, error)
	key                      func(T) (time.Time, string) // created_at, id
}

// read returns the page lq asks for: after its keyset position, or its
// offset, at most lq.Limit rows (all when 0), in (created_at, id) order,
// descending when lq.Desc.
func (p keyPage[T]) read(ctx context.Context, q Querier, lq ListQuery) ([]T, error) {
	dir, op := "ASC", ">"
	if lq.Desc {
		dir, op = "DESC", "<"
	}
	a := p.alias
	args := p.args
	ordered, unordered := p.where+` AND `+a+`.unordered IS NULL`, p.where+` AND `+a+`.unordered IS NOT NULL`
	offset := max(lq.Offset, 0)
	if lq.AfterTime != nil {
		args = append(slices.Clip(args), *lq.AfterTime, hexID(lq.AfterID))
		keyset := fmt.Sprintf(` AND (%s.created_at, %s.id) %s ($%d, $%d)`, a, a, op, len(args)-1, len(args))
		ordered += keyset
		unordered += keyset
		offset = 0
	}
	want := int64(math.MaxInt64)
	if lq.Limit > 0 {
		want = int64(lq.Limit) + int64(offset) // as many as the page and its offset could take from one walk
	}
	byTimeArgs := append(slices.Clip(args), want)
	if lq.AfterTime != nil {
		// The same position as a range of the key, which the ordered
		// rows' ids satisfy whenever their (created_at, id) does.
		args = append(slices.Clip(args), idBound(*lq.AfterTime, lq.Desc))
		ordered += fmt.Sprintf(` AND %s.id %s= $%d`, a, op, len(args))
	}
	args = append(slices.Clip(args), want)
	byKey, err := queryAll(ctx, q, p.scan, p.selectFrom+ordered+
		fmt.Sprintf(` ORDER BY %s.id %s LIMIT $%d`, a, dir, len(args)), args...)
	if err != nil {
		return nil, err
	}
	byTime, err := queryAll(ctx, q, p.scan, p.selectFrom+unordered+
		fmt.Sprintf(` ORDER BY %s.created_at %s, %s.id %s LIMIT $%d`, a, dir, a, dir, len(byTimeArgs)), byTimeArgs...)
	if err != nil {
		return nil, err
	}
	out := append(byKey, byTime...)
	slices.SortFunc(out, func(x, y T) int {
		xt, xid := p.key(x)
		yt, yid := p.key(y)
		c := cmp.Or(xt.Compare(yt), cmp.Compare(xid, yid))
		if lq.Desc {
			return -c
		}
		return c
	})
	out = out[min(offset, len(out)):]
	if lq.Limit > 0 && len(out) > lq.Limit {
		out = out[:lq.Limit]
	}
	return out, nil
}
