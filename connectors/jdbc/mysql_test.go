package jdbc

import "testing"

// TestRowAliasSupported: the row alias form of an upsert is for MySQL
// 8.0.19 and later only; MariaDB, older MySQL and unknown servers keep
// VALUES(c).
func TestRowAliasSupported(t *testing.T) {
	for version, want := range map[string]bool{
		"8.0.19":                          true,
		"8.0.20":                          true,
		"8.0.36-0ubuntu0.22.04.1":         true,
		"8.1.0":                           true,
		"8.4.3-commercial":                true,
		"9.1.0":                           true,
		"10.0.0":                          true,
		"8.0.18":                          false,
		"8.0.11-TiDB-v7.5.0":              false,
		"5.7.44-log":                      false,
		"5.6.51":                          false,
		"10.11.6-MariaDB-0+deb12u1":       false,
		"11.4.2-MariaDB":                  false,
		"5.5.5-10.11.6-MariaDB-1:10.11.6": false,
		"10.6.16-MariaDB-log":             false,
		"8.0":                             false,
		"":                                false,
		"v8.0.20":                         false,
	} {
		if got := rowAliasSupported(version); got != want {
			t.Errorf("rowAliasSupported(%q) = %v, want %v", version, got, want)
		}
	}
}

// TestMySQLUpsertSQL pins the statements of each flavour: MariaDB's
// VALUES(c), MySQL 8.0.19+'s row alias (renamed when the table has the
// alias's name), and the forms that need neither.
func TestMySQLUpsertSQL(t *testing.T) {
	g := &group{names: []string{"id", "name", "qty"}, pk: []int{0}, upd: []int{1, 2}}
	keyOnly := &group{names: []string{"a", "b"}, pk: []int{0, 1}}
	tests := []struct {
		name     string
		mode     string
		rowAlias bool
		table    tableName
		g        *group
		head     string
		tail     string
	}{
		{name: "mariadb upsert", mode: ModeUpsert, table: tableName{name: "items"}, g: g,
			head: "INSERT INTO `items` (`id`, `name`, `qty`) VALUES ",
			tail: " ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `qty` = VALUES(`qty`)"},
		{name: "mysql upsert", mode: ModeUpsert, rowAlias: true, table: tableName{schema: "shop", name: "items"}, g: g,
			head: "INSERT INTO `shop`.`items` (`id`, `name`, `qty`) VALUES ",
			tail: " AS `new` ON DUPLICATE KEY UPDATE `name` = `new`.`name`, `qty` = `new`.`qty`"},
		{name: "mysql upsert into a table named new", mode: ModeUpsert, rowAlias: true, table: tableName{name: "NEW"}, g: g,
			head: "INSERT INTO `NEW` (`id`, `name`, `qty`) VALUES ",
			tail: " AS `new_` ON DUPLICATE KEY UPDATE `name` = `new_`.`name`, `qty` = `new_`.`qty`"},
		{name: "mariadb key only", mode: ModeUpsert, table: tableName{name: "k"}, g: keyOnly,
			head: "INSERT INTO `k` (`a`, `b`) VALUES ", tail: " ON DUPLICATE KEY UPDATE `a` = `a`"},
		{name: "mysql key only", mode: ModeUpsert, rowAlias: true, table: tableName{name: "k"}, g: keyOnly,
			head: "INSERT INTO `k` (`a`, `b`) VALUES ", tail: " ON DUPLICATE KEY UPDATE `a` = `a`"},
		{name: "mysql insert", mode: ModeInsert, rowAlias: true, table: tableName{name: "items"}, g: g,
			head: "INSERT INTO `items` (`id`, `name`, `qty`) VALUES "},
		{name: "mariadb insert", mode: ModeInsert, table: tableName{name: "items"}, g: g,
			head: "INSERT INTO `items` (`id`, `name`, `qty`) VALUES "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &mysqlDialect{cfg: &Config{InsertMode: tc.mode}, rowAlias: tc.rowAlias}
			head, tail, tuple := m.insertSQL(tc.table, tc.g)
			if head != tc.head || tail != tc.tail {
				t.Errorf("insertSQL:\n head %q\n tail %q\nwant\n head %q\n tail %q", head, tail, tc.head, tc.tail)
			}
			if want := map[int]string{2: "(?,?)", 3: "(?,?,?)"}[len(tc.g.names)]; tuple != want {
				t.Errorf("tuple %q, want %q", tuple, want)
			}
		})
	}
}
