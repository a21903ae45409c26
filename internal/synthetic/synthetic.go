package synthetic

import (
	"errors"
	"fmt"
	"strconv"
)

// Resource is one generated FHIR resource.
type Resource struct {
	// Type is the resource type, for example "Observation".
	Type string
	// ID is the resource id, a valid FHIR id unique within its seed.
	ID string
	// JSON is the resource as compact JSON without meta. It is never
	// modified by the package after it is returned: callers may keep it.
	JSON []byte
}

// Ref returns the literal reference to r, "Type/id".
func (r Resource) Ref() string { return r.Type + "/" + r.ID }

// Generator generates the patients of one seed. It holds no mutable state:
// it is safe for concurrent use, and patient n is the same whatever was
// generated before.
type Generator struct {
	seed   int64
	prefix string // "s<seed>", the start of every id
}

// New returns the generator of seed.
func New(seed int64) *Generator {
	return &Generator{seed: seed, prefix: "s" + strconv.FormatInt(seed, 10)}
}

// Seed returns the seed g was made with.
func (g *Generator) Seed() int64 { return g.seed }

// PatientID returns the id of patient n's Patient resource.
func (g *Generator) PatientID(n int) string { return g.prefix + "-" + strconv.Itoa(n) }

// Count returns how many resources [Generator.Patient] returns for n,
// without generating them.
func (g *Generator) Count(n int) int {
	p := g.plan(n)
	return p.count()
}

// Patient returns every resource of patient number n (n >= 0): the
// Patient first, then each Encounter followed by the resources recorded
// during it. Every reference points to a resource earlier in the slice.
func (g *Generator) Patient(n int) []Resource {
	p := g.plan(n)
	return g.build(&p, make([]Resource, 0, p.count()))
}

// Count returns the number of resources the first patients patients of
// seed hold, as [Stream] would emit them.
func Count(seed int64, patients int) int {
	g := New(seed)
	total := 0
	for n := range patients {
		total += g.Count(n)
	}
	return total
}

// ErrNegative is returned for a negative patient or resource count.
var ErrNegative = errors.New("synthetic: count must not be negative")

// Stream generates patients 0 to patients-1 of seed and calls emit with
// each resource in order. It stops at, and returns, the first error emit
// returns. Memory stays constant: one patient is held at a time.
func Stream(seed int64, patients int, emit func(Resource) error) error {
	if patients < 0 {
		return fmt.Errorf("stream %d patients: %w", patients, ErrNegative)
	}
	g := New(seed)
	for n := range patients {
		for _, r := range g.Patient(n) {
			if err := emit(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// StreamResources emits exactly total resources of seed: as many whole
// patients as fit, then the first resources of one more patient. Because
// references only point backwards, the emitted set is self-contained.
func StreamResources(seed int64, total int, emit func(Resource) error) error {
	if total < 0 {
		return fmt.Errorf("stream %d resources: %w", total, ErrNegative)
	}
	g := New(seed)
	for n := 0; total > 0; n++ {
		for _, r := range g.Patient(n) {
			if err := emit(r); err != nil {
				return err
			}
			total--
			if total == 0 {
				return nil
			}
		}
	}
	return nil
}

// maxEncounters bounds the encounters of one patient.
const maxEncounters = 8

// encounterPlan decides which resources one encounter produces.
type encounterPlan struct {
	kind                                           int
	vitals                                         uint16 // bit i: vitals[i]; bit len(vitals): blood pressure
	panel                                          int    // index into panels, -1 for none
	condition, procedure, medication, immunization bool
}

// plan is the shape of one patient: everything that decides how many
// resources it has. It is drawn from its own random stream so that
// [Generator.Count] need not generate any JSON.
type plan struct {
	n          int
	encounters [maxEncounters]encounterPlan
	nEnc       int
	allergy    bool
}

func (g *Generator) plan(n int) plan {
	r := newRNG(g.seed, n, 0)
	p := plan{n: n, nEnc: 2 + r.intn(maxEncounters-1)}
	for i := range p.nEnc {
		e := &p.encounters[i]
		e.kind = r.intn(len(encounterKinds))
		for v := range len(vitals) + 1 {
			if r.chance(70) {
				e.vitals |= 1 << v
			}
		}
		e.panel = -1
		if r.chance(35) {
			e.panel = r.intn(len(panels))
		}
		e.condition = r.chance(35)
		e.procedure = r.chance(40)
		e.medication = r.chance(40)
		e.immunization = r.chance(25)
	}
	p.allergy = r.chance(20)
	return p
}

func (p *plan) count() int {
	c := 1
	if p.allergy {
		c++
	}
	for _, e := range p.encounters[:p.nEnc] {
		c++
		for v := e.vitals; v != 0; v &= v - 1 {
			c++
		}
		if e.panel >= 0 {
			c += len(panels[e.panel].results) + 1
		}
		for _, b := range []bool{e.condition, e.procedure, e.medication, e.immunization} {
			if b {
				c++
			}
		}
	}
	return c
}

// rng is splitmix64: tiny, fast, and fixed forever, so that a seed means
// the same data in every Go release.
type rng struct{ s uint64 }

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// newRNG returns the random stream number stream of patient n of seed.
func newRNG(seed int64, n int, stream uint64) rng {
	return rng{s: mix(mix(mix(uint64(seed))^uint64(n)) ^ stream)}
}

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	return mix(r.s)
}

// intn returns a number in [0, n).
func (r *rng) intn(n int) int { return int(((r.next() >> 32) * uint64(n)) >> 32) }

// chance reports true pct times in 100.
func (r *rng) chance(pct int) bool { return r.intn(100) < pct }

// between returns a number in [lo, hi).
func (r *rng) between(lo, hi float64) float64 {
	return lo + float64(r.next()>>11)*(1.0/(1<<53))*(hi-lo)
}
