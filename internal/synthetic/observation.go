package synthetic

// observation writes one Observation of q in category (vital-signs or
// laboratory) taken at t during encounter enc, and returns its id.
func (c *patientCtx) observation(enc, category string, q quantity, t int64) string {
	id := c.nextID("obs")
	v := c.r.between(q.low, q.high)
	b, start := c.buf, len(c.buf)
	b = obsHead(b, id, category, q.code, c.id, enc, t)
	b = valueQuantity(b, "valueQuantity", v, q)
	if q.normHigh > q.normLow {
		b = interpretation(b, v, q)
		b = append(b, `,"referenceRange":[{"low":{"value":`...)
		b = decimal(b, q.normLow, q.decimals)
		b = append(b, `,"unit":"`...)
		b = append(b, q.unit...)
		b = append(b, `","system":"`+sysUCUM+`","code":"`...)
		b = append(b, q.unit...)
		b = append(b, `"},"high":{"value":`...)
		b = decimal(b, q.normHigh, q.decimals)
		b = append(b, `,"unit":"`...)
		b = append(b, q.unit...)
		b = append(b, `","system":"`+sysUCUM+`","code":"`...)
		b = append(b, q.unit...)
		b = append(b, `"}}]`...)
	}
	b = append(b, '}')
	c.buf = b
	c.add("Observation", id, start)
	return id
}

// bloodPressure writes a blood pressure panel Observation with its
// systolic and diastolic components.
func (c *patientCtx) bloodPressure(enc string, t int64) {
	id := c.nextID("obs")
	b, start := c.buf, len(c.buf)
	b = obsHead(b, id, "vital-signs", bpPanel, c.id, enc, t)
	b = append(b, `,"component":[`...)
	for i, q := range []quantity{bpSystolic, bpDiastolic} {
		if i > 0 {
			b = append(b, ',')
		}
		v := c.r.between(q.low, q.high)
		b = append(b, `{"code":`...)
		b = conceptValue(b, sysLOINC, q.code)
		b = valueQuantity(b, "valueQuantity", v, q)
		b = interpretation(b, v, q)
		b = append(b, '}')
	}
	b = append(b, `]}`...)
	c.buf = b
	c.add("Observation", id, start)
}

// labPanel writes the Observations of p, then the DiagnosticReport that
// lists them as results.
func (c *patientCtx) labPanel(enc string, p panel, t int64) {
	var ids [8]string
	for i, q := range p.results {
		ids[i] = c.observation(enc, "laboratory", q, t)
	}
	id := c.nextID("dr")
	b, start := c.buf, len(c.buf)
	b = head(b, "DiagnosticReport", id)
	b = str(b, "status", "final")
	b = append(b, `,"category":[`...)
	b = conceptValue(b, sysV20074, code{"LAB", "Laboratory"})
	b = append(b, ']')
	b = concept(b, "code", sysLOINC, p.code)
	b = ref(b, "subject", "Patient", c.id, c.name)
	b = ref(b, "encounter", "Encounter", enc, "")
	b = ts(b, "effectiveDateTime", t)
	b = ts(b, "issued", t+3600)
	b = append(b, `,"result":[`...)
	for i, q := range p.results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"reference":"Observation/`...)
		b = append(b, ids[i]...)
		b = append(b, `","display":"`...)
		b = append(b, q.code.display...)
		b = append(b, `"}`...)
	}
	b = append(b, `]}`...)
	c.buf = b
	c.add("DiagnosticReport", id, start)
}

// obsHead writes an Observation up to and including its issued time.
func obsHead(b []byte, id, category string, what code, patient, enc string, t int64) []byte {
	b = head(b, "Observation", id)
	b = str(b, "status", "final")
	b = append(b, `,"category":[{"coding":[{"system":"`+sysObsCat+`","code":"`...)
	b = append(b, category...)
	b = append(b, `","display":"`...)
	b = append(b, category...)
	b = append(b, `"}]}]`...)
	b = concept(b, "code", sysLOINC, what)
	b = ref(b, "subject", "Patient", patient, "")
	b = ref(b, "encounter", "Encounter", enc, "")
	b = ts(b, "effectiveDateTime", t)
	return ts(b, "issued", t)
}

// interpretation appends the v3 interpretation of v against q's normal
// range: L, N or H.
func interpretation(b []byte, v float64, q quantity) []byte {
	in := code{"N", "Normal"}
	switch {
	case v < q.normLow:
		in = code{"L", "Low"}
	case v > q.normHigh:
		in = code{"H", "High"}
	}
	b = append(b, `,"interpretation":[`...)
	b = conceptValue(b, sysInterp, in)
	return append(b, ']')
}
