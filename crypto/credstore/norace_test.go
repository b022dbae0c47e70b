//go:build !race

package credstore

const raceEnabled = false
