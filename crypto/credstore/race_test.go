//go:build race

package credstore

const raceEnabled = true
