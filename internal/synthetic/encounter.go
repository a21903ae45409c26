package synthetic

import "strconv"

// encounter writes one Encounter starting at t, then the resources
// recorded during it, each referring back to it.
func (c *patientCtx) encounter(e encounterPlan, t int64) {
	kind := encounterKinds[e.kind]
	end := t + int64(kind.minutes)*60
	doctor := practitioners[c.r.intn(len(practitioners))]
	enc := c.nextID("enc")

	b, start := c.buf, len(c.buf)
	b = head(b, "Encounter", enc)
	b = str(b, "status", "finished")
	b = append(b, `,"class":{"system":"`+sysActCode+`","code":"`...)
	b = append(b, kind.class.code...)
	b = append(b, `","display":"`...)
	b = append(b, kind.class.display...)
	b = append(b, `"},"type":[`...)
	b = conceptValue(b, sysSNOMED, kind.kind)
	b = append(b, ']')
	b = ref(b, "subject", "Patient", c.id, c.name)
	b = append(b, `,"participant":[{"type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PPRF","display":"primary performer"}],"text":"primary performer"}],"individual":{"display":"`...)
	b = append(b, doctor...)
	b = append(b, `"}}],"period":{"start":"`...)
	b = appendTime(b, t)
	b = append(b, `","end":"`...)
	b = appendTime(b, end)
	b = append(b, `"},"serviceProvider":{"display":"`...)
	b = append(b, providers[c.r.intn(len(providers))]...)
	b = append(b, `"}}`...)
	c.buf = b
	c.add("Encounter", enc, start)

	for v := range vitals {
		if e.vitals&(1<<v) != 0 {
			c.observation(enc, "vital-signs", vitals[v], t+int64(v)*60)
		}
	}
	if e.vitals&(1<<len(vitals)) != 0 {
		c.bloodPressure(enc, t+int64(len(vitals))*60)
	}
	if e.panel >= 0 {
		c.labPanel(enc, panels[e.panel], end)
	}
	var condition string
	if e.condition {
		condition = c.condition(enc, t)
	}
	if e.procedure {
		c.procedure(enc, condition, t, end)
	}
	if e.medication {
		c.medicationRequest(enc, condition, doctor, end)
	}
	if e.immunization {
		c.immunization(enc, t)
	}
}

func (c *patientCtx) condition(enc string, t int64) string {
	id := c.nextID("cond")
	cond := conditions[c.r.intn(len(conditions))]
	resolved := c.r.chance(60)
	b, start := c.buf, len(c.buf)
	b = head(b, "Condition", id)
	clinical := "active"
	if resolved {
		clinical = "resolved"
	}
	b = status(b, "clinicalStatus", sysCondClin, clinical)
	b = status(b, "verificationStatus", sysCondVer, "confirmed")
	b = append(b, `,"category":[`...)
	b = conceptValue(b, sysCondCat, code{"encounter-diagnosis", "Encounter Diagnosis"})
	b = append(b, ']')
	b = concept(b, "code", sysSNOMED, cond)
	b = ref(b, "subject", "Patient", c.id, "")
	b = ref(b, "encounter", "Encounter", enc, "")
	b = ts(b, "onsetDateTime", t)
	if resolved {
		b = ts(b, "abatementDateTime", t+int64(7+c.r.intn(60))*day)
	}
	b = ts(b, "recordedDate", t)
	b = append(b, '}')
	c.buf = b
	c.add("Condition", id, start)
	return id
}

func (c *patientCtx) procedure(enc, condition string, t, end int64) {
	id := c.nextID("proc")
	b, start := c.buf, len(c.buf)
	b = head(b, "Procedure", id)
	b = str(b, "status", "completed")
	b = concept(b, "code", sysSNOMED, procedures[c.r.intn(len(procedures))])
	b = ref(b, "subject", "Patient", c.id, c.name)
	b = ref(b, "encounter", "Encounter", enc, "")
	b = append(b, `,"performedPeriod":{"start":"`...)
	b = appendTime(b, t)
	b = append(b, `","end":"`...)
	b = appendTime(b, min(end, t+int64(15+c.r.intn(30))*60))
	b = append(b, `"}`...)
	if condition != "" {
		b = append(b, `,"reasonReference":[{"reference":"Condition/`...)
		b = append(b, condition...)
		b = append(b, `"}]`...)
	}
	b = append(b, '}')
	c.buf = b
	c.add("Procedure", id, start)
}

func (c *patientCtx) medicationRequest(enc, condition, doctor string, t int64) {
	id := c.nextID("med")
	m := medications[c.r.intn(len(medications))]
	state := "stopped"
	if c.r.chance(30) {
		state = "active"
	}
	b, start := c.buf, len(c.buf)
	b = head(b, "MedicationRequest", id)
	b = str(b, "status", state)
	b = str(b, "intent", "order")
	b = concept(b, "medicationCodeableConcept", sysRxNorm, m.code)
	b = ref(b, "subject", "Patient", c.id, c.name)
	b = ref(b, "encounter", "Encounter", enc, "")
	b = ts(b, "authoredOn", t)
	b = append(b, `,"requester":{"display":"`...)
	b = append(b, doctor...)
	b = append(b, `"}`...)
	if condition != "" {
		b = append(b, `,"reasonReference":[{"reference":"Condition/`...)
		b = append(b, condition...)
		b = append(b, `"}]`...)
	}
	b = append(b, `,"dosageInstruction":[{"sequence":1,"text":"`...)
	b = append(b, m.dosage...)
	b = append(b, `","timing":{"repeat":{"frequency":1,"period":`...)
	b = strconv.AppendInt(b, int64(m.period), 10)
	b = append(b, `,"periodUnit":"h"}},"asNeededBoolean":false,"doseAndRate":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/dose-rate-type","code":"ordered","display":"Ordered"}]},"doseQuantity":{"value":1}}]}]}`...)
	c.buf = b
	c.add("MedicationRequest", id, start)
}

func (c *patientCtx) immunization(enc string, t int64) {
	id := c.nextID("imm")
	b, start := c.buf, len(c.buf)
	b = head(b, "Immunization", id)
	b = str(b, "status", "completed")
	b = concept(b, "vaccineCode", sysCVX, vaccines[c.r.intn(len(vaccines))])
	b = ref(b, "patient", "Patient", c.id, c.name)
	b = ref(b, "encounter", "Encounter", enc, "")
	b = ts(b, "occurrenceDateTime", t)
	b = append(b, `,"primarySource":true,"lotNumber":"LOT`...)
	b = digits(b, c.r.intn(1000000), 6)
	b = append(b, `","site":`...)
	b = conceptValue(b, "http://terminology.hl7.org/CodeSystem/v3-ActSite", code{"LA", "left arm"})
	b = append(b, `,"route":`...)
	b = conceptValue(b, "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", code{"IM", "Injection, intramuscular"})
	b = append(b, `,"doseQuantity":{"value":0.5,"unit":"mL","system":"`+sysUCUM+`","code":"mL"}}`...)
	c.buf = b
	c.add("Immunization", id, start)
}
