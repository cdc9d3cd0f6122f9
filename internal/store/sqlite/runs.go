package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/switchboard-hq/switchboard/internal/store"
)

// DeliveryOrigin returns the rule chain and hop count of an event caused
// by the delivery: the causing event's, extended by the delivery's rule.
func (s *Store) DeliveryOrigin(ctx context.Context, workspaceID int64, deliveryID string) ([]int64, int, error) {
	id, ok := uuidText(deliveryID)
	if !ok {
		return nil, 0, wrap("trace a delivery", fmt.Errorf("delivery %q: %w", deliveryID, store.ErrNotFound))
	}
	var (
		ruleID int64
		hops   int
		chain  sql.NullString
	)
	err := s.read.QueryRowContext(ctx, `
		SELECT coalesce(r.rule_id, 0), coalesce(e.hops, 0), e.caused_by_rules
		FROM deliveries d LEFT JOIN runs r ON r.workspace_id = d.workspace_id AND r.id = d.run_id LEFT JOIN events e ON e.id = r.event_id
		WHERE d.workspace_id = ? AND d.id = ?`, workspaceID, id).Scan(&ruleID, &hops, &chain)
	if err != nil {
		return nil, 0, wrap("trace a delivery", notFound(err))
	}
	var rules []int64
	if chain.Valid {
		if err := json.Unmarshal([]byte(chain.String), &rules); err != nil {
			return nil, 0, wrap("trace a delivery", err)
		}
	}
	return append(rules, ruleID), hops + 1, nil
}

func scanID(r scanner) (int64, error) {
	var id int64
	return id, r.Scan(&id)
}
