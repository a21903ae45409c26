package synthetic

// The code tables below are real codes from the systems they name, with
// the displays Synthea uses. No string here needs JSON escaping: the
// writers in json.go copy them verbatim.

const (
	sysLOINC    = "http://loinc.org"
	sysSNOMED   = "http://snomed.info/sct"
	sysRxNorm   = "http://www.nlm.nih.gov/research/umls/rxnorm"
	sysCVX      = "http://hl7.org/fhir/sid/cvx"
	sysUCUM     = "http://unitsofmeasure.org"
	sysObsCat   = "http://terminology.hl7.org/CodeSystem/observation-category"
	sysActCode  = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	sysV20203   = "http://terminology.hl7.org/CodeSystem/v2-0203"
	sysV20074   = "http://terminology.hl7.org/CodeSystem/v2-0074"
	sysInterp   = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	sysCondClin = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	sysCondVer  = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	sysCondCat  = "http://terminology.hl7.org/CodeSystem/condition-category"
	sysAllClin  = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	sysAllVer   = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
	sysMarital  = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
	sysLang     = "urn:ietf:bcp:47"
	sysMRN      = "http://hospital.smarthealthit.org"
	sysSSN      = "http://hl7.org/fhir/sid/us-ssn"
)

// code is one coding: a code and its display.
type code struct{ code, display string }

// quantity describes a measured value: a LOINC code, its UCUM unit and a
// plausible range; decimals is the number of fraction digits to write.
type quantity struct {
	code              code
	unit              string
	low, high         float64
	normLow, normHigh float64
	decimals          int
}

// Vital signs, taken at most encounters. The blood pressure panel is
// written with components (systolic, diastolic).
var vitals = []quantity{
	{code{"8302-2", "Body Height"}, "cm", 50, 200, 0, 0, 1},
	{code{"29463-7", "Body Weight"}, "kg", 4, 130, 0, 0, 1},
	{code{"39156-5", "Body Mass Index"}, "kg/m2", 14, 42, 18.5, 25, 1},
	{code{"8867-4", "Heart rate"}, "/min", 50, 120, 60, 100, 0},
	{code{"9279-1", "Respiratory rate"}, "/min", 10, 26, 12, 20, 0},
	{code{"8310-5", "Body temperature"}, "Cel", 36, 39.5, 36.1, 37.8, 1},
	{code{"2708-6", "Oxygen saturation in Arterial blood"}, "%", 88, 100, 95, 100, 0},
	{code{"72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}, "{score}", 0, 10, 0, 3, 0},
}

var (
	bpPanel     = code{"85354-9", "Blood pressure panel with all children optional"}
	bpSystolic  = quantity{code{"8480-6", "Systolic Blood Pressure"}, "mm[Hg]", 95, 170, 90, 130, 0}
	bpDiastolic = quantity{code{"8462-4", "Diastolic Blood Pressure"}, "mm[Hg]", 55, 105, 60, 85, 0}
)

// panel is a lab panel: a DiagnosticReport code and its Observations.
type panel struct {
	code    code
	results []quantity
}

var panels = []panel{
	{code{"58410-2", "CBC panel - Blood by Automated count"}, []quantity{
		{code{"6690-2", "Leukocytes [#/volume] in Blood by Automated count"}, "10*3/uL", 3, 14, 4.5, 11, 1},
		{code{"789-8", "Erythrocytes [#/volume] in Blood by Automated count"}, "10*6/uL", 3.5, 6.2, 4.2, 5.9, 2},
		{code{"718-7", "Hemoglobin [Mass/volume] in Blood"}, "g/dL", 9, 18, 12, 17.5, 1},
		{code{"4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count"}, "%", 30, 52, 36, 50, 1},
		{code{"777-3", "Platelets [#/volume] in Blood by Automated count"}, "10*3/uL", 120, 450, 150, 400, 0},
	}},
	{code{"51990-0", "Basic metabolic panel - Blood"}, []quantity{
		{code{"2339-0", "Glucose [Mass/volume] in Blood"}, "mg/dL", 65, 180, 70, 99, 0},
		{code{"6299-2", "Urea nitrogen [Mass/volume] in Blood"}, "mg/dL", 5, 30, 7, 20, 1},
		{code{"38483-4", "Creatinine [Mass/volume] in Blood"}, "mg/dL", 0.5, 1.8, 0.6, 1.3, 2},
		{code{"2951-2", "Sodium [Moles/volume] in Blood"}, "mmol/L", 130, 148, 136, 145, 0},
		{code{"2823-3", "Potassium [Moles/volume] in Blood"}, "mmol/L", 3.2, 5.4, 3.5, 5.1, 1},
		{code{"2075-0", "Chloride [Moles/volume] in Blood"}, "mmol/L", 95, 110, 98, 107, 0},
		{code{"20565-8", "Carbon dioxide, total [Moles/volume] in Blood"}, "mmol/L", 20, 32, 23, 29, 0},
		{code{"49765-1", "Calcium [Mass/volume] in Blood"}, "mg/dL", 8.2, 10.8, 8.6, 10.3, 1},
	}},
	{code{"57698-3", "Lipid panel with direct LDL - Serum or Plasma"}, []quantity{
		{code{"2093-3", "Cholesterol [Mass/volume] in Serum or Plasma"}, "mg/dL", 140, 290, 125, 200, 0},
		{code{"2571-8", "Triglycerides [Mass/volume] in Serum or Plasma"}, "mg/dL", 60, 300, 0, 150, 0},
		{code{"18262-6", "Low Density Lipoprotein Cholesterol"}, "mg/dL", 60, 190, 0, 100, 0},
		{code{"2085-9", "High Density Lipoprotein Cholesterol"}, "mg/dL", 25, 90, 40, 60, 0},
	}},
	{code{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"}, []quantity{
		{code{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"}, "%", 4.5, 9.5, 4, 5.6, 1},
	}},
}

// encounterKind is an encounter type with its v3 ActCode class and
// typical length in minutes.
type encounterKind struct {
	class   code
	kind    code
	minutes int
}

var encounterKinds = []encounterKind{
	{code{"AMB", "ambulatory"}, code{"185349003", "Encounter for check up (procedure)"}, 30},
	{code{"AMB", "ambulatory"}, code{"162673000", "General examination of patient (procedure)"}, 30},
	{code{"AMB", "ambulatory"}, code{"185345009", "Encounter for symptom"}, 20},
	{code{"AMB", "ambulatory"}, code{"698314001", "Consultation for treatment"}, 45},
	{code{"AMB", "ambulatory"}, code{"410620009", "Well child visit (procedure)"}, 30},
	{code{"EMER", "emergency"}, code{"50849002", "Emergency room admission (procedure)"}, 240},
	{code{"IMP", "inpatient encounter"}, code{"183452005", "Emergency hospital admission (procedure)"}, 2880},
}

var conditions = []code{
	{"444814009", "Viral sinusitis (disorder)"},
	{"195662009", "Acute viral pharyngitis (disorder)"},
	{"10509002", "Acute bronchitis (disorder)"},
	{"15777000", "Prediabetes"},
	{"44054006", "Diabetes"},
	{"59621000", "Essential hypertension (disorder)"},
	{"55822004", "Hyperlipidemia"},
	{"40055000", "Chronic sinusitis (disorder)"},
	{"233678006", "Childhood asthma"},
	{"162864005", "Body mass index 30+ - obesity (finding)"},
	{"271737000", "Anemia (disorder)"},
	{"65363002", "Otitis media"},
	{"68496003", "Polyp of colon"},
	{"36971009", "Sinusitis (disorder)"},
}

var procedures = []code{
	{"430193006", "Medication Reconciliation (procedure)"},
	{"710824005", "Assessment of health and social care needs (procedure)"},
	{"171207006", "Depression screening (procedure)"},
	{"428191000124101", "Documentation of current medications"},
	{"117015009", "Throat culture (procedure)"},
	{"76601001", "Intramuscular injection"},
	{"23426006", "Measurement of respiratory function (procedure)"},
	{"73761001", "Colonoscopy"},
	{"274031008", "Rectal polypectomy"},
	{"180256009", "Subcutaneous immunotherapy"},
}

// medication is an RxNorm product and how it is taken.
type medication struct {
	code   code
	dosage string
	period int // hours between doses
}

var medications = []medication{
	{code{"314076", "lisinopril 10 MG Oral Tablet"}, "Take 1 tablet by mouth once daily", 24},
	{code{"860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"}, "Take 1 tablet by mouth once daily with the evening meal", 24},
	{code{"197361", "Amlodipine 5 MG Oral Tablet"}, "Take 1 tablet by mouth once daily", 24},
	{code{"313782", "Acetaminophen 325 MG Oral Tablet"}, "Take 2 tablets by mouth every 6 hours as needed for pain", 6},
	{code{"849574", "Naproxen sodium 220 MG Oral Tablet"}, "Take 1 tablet by mouth every 12 hours with food", 12},
	{code{"834060", "Penicillin V Potassium 250 MG Oral Tablet"}, "Take 1 tablet by mouth every 6 hours for 10 days", 6},
	{code{"308182", "Amoxicillin 250 MG Oral Capsule"}, "Take 1 capsule by mouth every 8 hours for 10 days", 8},
	{code{"895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"}, "Inhale 2 puffs twice daily", 12},
	{code{"310798", "Hydrochlorothiazide 25 MG Oral Tablet"}, "Take 1 tablet by mouth every morning", 24},
	{code{"259255", "Atorvastatin 80 MG Oral Tablet"}, "Take 1 tablet by mouth at bedtime", 24},
}

var vaccines = []code{
	{"140", "Influenza, seasonal, injectable, preservative free"},
	{"113", "Td (adult) preservative free"},
	{"133", "Pneumococcal conjugate PCV 13"},
	{"33", "pneumococcal polysaccharide vaccine, 23 valent"},
	{"08", "Hep B, adolescent or pediatric"},
	{"62", "HPV, quadrivalent"},
	{"121", "zoster"},
	{"115", "Tdap"},
	{"20", "DTaP"},
	{"10", "IPV"},
	{"03", "MMR"},
	{"21", "varicella"},
}

var allergies = []code{
	{"300916003", "Latex allergy"},
	{"91935009", "Allergy to peanuts"},
	{"417532002", "Allergy to fish"},
	{"232347008", "Dander (animal) allergy"},
	{"419474003", "Allergy to mould"},
	{"232350006", "House dust mite allergy"},
	{"91930004", "Allergy to eggs"},
	{"714035009", "Allergy to soya"},
}

var (
	givenFemale   = []string{"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia", "Fannie", "Wenona"}
	givenMale     = []string{"James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Dwain", "Wm"}
	families      = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Waelchi", "McGlynn", "Bergstrom", "Cormier", "Ankunding", "Kuhn", "Schmitt", "Reichert"}
	streets       = []string{"Main St", "Oak Ave", "Pine St", "Maple Ave", "Cedar Ln", "Elm St", "Washington St", "Lake View Dr", "Hillside Ave", "Park Rd", "Mill St", "Church St"}
	practitioners = []string{"Dr. Alva Kuhn", "Dr. Renea Schmitt", "Dr. Ike Reichert", "Dr. Jude Cormier", "Dr. Leann Jones", "Dr. Mikel Smith", "Dr. Soo Park", "Dr. Ines Lopez"}
	providers     = []string{"PCP41585", "MASSACHUSETTS GENERAL HOSPITAL", "BOSTON MEDICAL CENTER", "STEWARD MEDICAL GROUP, INC", "BAYSTATE MEDICAL CENTER", "LOWELL GENERAL HOSPITAL", "CAMBRIDGE HEALTH ALLIANCE"}
)

// city is a Massachusetts town and one of its ZIP codes.
type city struct{ name, zip string }

var cities = []city{
	{"Boston", "02108"}, {"Worcester", "01602"}, {"Springfield", "01103"}, {"Cambridge", "02139"},
	{"Lowell", "01850"}, {"Brockton", "02301"}, {"Quincy", "02169"}, {"Lynn", "01901"},
	{"New Bedford", "02740"}, {"Fall River", "02720"}, {"Newton", "02458"}, {"Somerville", "02143"},
	{"Winthrop", "02152"}, {"Framingham", "01701"}, {"Haverhill", "01830"}, {"Waltham", "02451"},
}

var maritalStatuses = []code{{"M", "Married"}, {"S", "Never Married"}, {"D", "Divorced"}, {"W", "Widowed"}}
