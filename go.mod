module github.com/rolecall/rolecall

go 1.26.8
