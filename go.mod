module github.com/vpt-dev/vpt

go 1.26.8

require (
	github.com/mattn/go-sqlite3 v1.14.53
	golang.org/x/image v0.48.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)
