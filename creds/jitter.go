package creds

import "math/rand/v2"

// jitterSource returns the random source for backoff jitter. Jitter needs no
// cryptographic strength.
func jitterSource() func() float64 { return rand.Float64 }
