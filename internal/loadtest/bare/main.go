// Command bare is the yardstick of the load test (internal/loadtest): a
// bare net/http handler, standard library only, that answers every request
// with the bytes of one file and the two headers rolecall sends
// (Content-Type and Content-Length). It is what a server with no checks,
// no audit and nothing else linked costs, in CPU, memory and start time.
//
// Usage: bare BODY-FILE PORT
package main

import (
	"log"
	"net/http"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatal("usage: bare BODY-FILE PORT")
	}
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	length := []string{strconv.Itoa(len(body))}
	typ := []string{"application/json"}
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Args[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = typ
		h["Content-Length"] = length
		w.Write(body)
	})))
}
