//go:build !race && !js

package main

// btRace says the test binary was built with -race, so that the commands
// the tests build share its compiled packages.
const btRace = false
