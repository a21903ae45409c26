package gateway

import (
	"github.com/jetexport/jetexport/internal/fhir"
)

// operationOutcome is the /fhir form of an error answer: one issue with
// the message, then one per detail, pointing at its element.
func operationOutcome(issue, message string, details []detail) []byte {
	issues := []fhir.Issue{{Severity: fhir.SeverityError, Code: issue, Diagnostics: message}}
	for _, d := range details {
		i := fhir.Issue{Severity: fhir.SeverityError, Code: issue, Diagnostics: d.Message}
		if d.Field != "" {
			i.Expression = []string{d.Field}
		}
		issues = append(issues, i)
	}
	return fhir.Outcome(issues...)
}
