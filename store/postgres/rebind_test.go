package postgres

import "testing"

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                          "SELECT 1",
		"WHERE id = ?":                      "WHERE id = $1",
		"VALUES (?, ?, ?) ON CONFLICT (id)": "VALUES ($1, $2, $3) ON CONFLICT (id)",
		"a >= ? AND a < ? ORDER BY (a = ?)": "a >= $1 AND a < $2 ORDER BY (a = $3)",
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}
