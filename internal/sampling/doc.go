// Package sampling decides which routine events a client keeps: the
// built-in strategies of TracingConfig.Sampling (percentage, every n'th,
// adaptive to the load of the client's queue), each either from a random
// draw or, to keep or drop whole traces, from a hash of the trace id.
//
// Rates are compared as 53-bit fixed-point numbers: a decision keeps an
// event when a uniformly random (or hashed) 53-bit number is below the
// rate's threshold, so that a trace kept at one rate is kept at every
// higher one. Random draws come from math/rand/v2's per-thread generator.
// Deciding is lock-free and never allocates.
package sampling
