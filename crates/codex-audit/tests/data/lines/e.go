// Package demo is a demo.
package demo

import "fmt"

/*
Block comment.
*/
func Hello(name string) string {
	// greet
	return fmt.Sprintf("hello %s", name) // trailing
}
