package synthetic

import (
	"strconv"
	"time"
)

// The writers below append JSON fragments to a byte slice. They copy
// strings verbatim: every string they are given comes from this package's
// tables or is built from digits and letters, so nothing needs escaping
// (the tests check every generated resource with json.Valid).

// str appends ,"key":"val".
func str(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = append(b, val...)
	return append(b, '"')
}

// head starts a resource: {"resourceType":"T","id":"ID" (no closing brace).
func head(b []byte, typ, id string) []byte {
	b = append(b, `{"resourceType":"`...)
	b = append(b, typ...)
	b = append(b, `","id":"`...)
	b = append(b, id...)
	return append(b, '"')
}

// coding appends {"system":..,"code":..,"display":..}.
func coding(b []byte, system string, c code) []byte {
	b = append(b, `{"system":"`...)
	b = append(b, system...)
	b = append(b, `","code":"`...)
	b = append(b, c.code...)
	b = append(b, `","display":"`...)
	b = append(b, c.display...)
	return append(b, `"}`...)
}

// concept appends ,"key":{"coding":[coding],"text":display}.
func concept(b []byte, key, system string, c code) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":`...)
	return conceptValue(b, system, c)
}

// conceptValue appends {"coding":[coding],"text":display}.
func conceptValue(b []byte, system string, c code) []byte {
	b = append(b, `{"coding":[`...)
	b = coding(b, system, c)
	b = append(b, `],"text":"`...)
	b = append(b, c.display...)
	return append(b, `"}`...)
}

// status appends ,"key":{"coding":[{"system":..,"code":..}]} with the
// display omitted, as FHIR's status concepts usually are.
func status(b []byte, key, system, c string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":{"coding":[{"system":"`...)
	b = append(b, system...)
	b = append(b, `","code":"`...)
	b = append(b, c...)
	return append(b, `"}]}`...)
}

// ref appends ,"key":{"reference":"Type/id"} with an optional display.
func ref(b []byte, key, typ, id, display string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":{"reference":"`...)
	b = append(b, typ...)
	b = append(b, '/')
	b = append(b, id...)
	if display != "" {
		b = append(b, `","display":"`...)
		b = append(b, display...)
	}
	return append(b, `"}`...)
}

// ts appends ,"key":"<RFC 3339 time in UTC>".
func ts(b []byte, key string, t int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = appendTime(b, t)
	return append(b, '"')
}

// appendTime appends t (Unix seconds) in RFC 3339, UTC.
func appendTime(b []byte, t int64) []byte {
	return time.Unix(t, 0).UTC().AppendFormat(b, time.RFC3339)
}

// date appends ,"key":"YYYY-MM-DD".
func date(b []byte, key string, t int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = time.Unix(t, 0).UTC().AppendFormat(b, time.DateOnly)
	return append(b, '"')
}

// decimal appends v with the given number of fraction digits.
func decimal(b []byte, v float64, decimals int) []byte {
	return strconv.AppendFloat(b, v, 'f', decimals, 64)
}

// valueQuantity appends ,"key":{"value":v,"unit":u,"system":UCUM,"code":u}.
func valueQuantity(b []byte, key string, v float64, q quantity) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":{"value":`...)
	b = decimal(b, v, q.decimals)
	b = append(b, `,"unit":"`...)
	b = append(b, q.unit...)
	b = append(b, `","system":"`+sysUCUM+`","code":"`...)
	b = append(b, q.unit...)
	return append(b, `"}`...)
}
