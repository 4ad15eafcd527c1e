module github.com/reflowtrace/reflowtrace-go

go 1.24
