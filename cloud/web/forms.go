package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/internal/pantry"
)

// Forms validate on the server with the services' rules (the API's), and
// a refused form comes back with what was typed and the error next to
// the field it is about. The services' messages name their field first
// ("timezone "Mars/Base" is not an IANA time zone name"), which is how a
// message finds its field.

// form is a form as a page shows it: the values typed, and after a
// refusal, the error by field ("" for one about no single field).
type form struct {
	Values map[string]string
	Errors map[string]string
}

// newForm reads the named fields of the posted form.
func newForm(c *fiber.Ctx, fields ...string) form {
	f := form{Values: map[string]string{}, Errors: map[string]string{}}
	for _, name := range fields {
		f.Values[name] = strings.TrimSpace(c.FormValue(name))
	}
	return f
}

// refuse files err's message under the field it names, or under "".
func (f form) refuse(err error) form {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	msg := pantry.ErrorMessage(err)
	for name := range f.Values {
		label := strings.ReplaceAll(name, "_", " ")
		if strings.HasPrefix(strings.ToLower(msg), label+" ") || strings.HasPrefix(strings.ToLower(msg), name+" ") ||
			strings.HasPrefix(strings.ToLower(msg), label+":") {
			f.Errors[name] = msg
			return f
		}
	}
	f.Errors[""] = msg
	return f
}

// Value is what was typed in field name.
func (f form) Value(name string) string { return f.Values[name] }

// Err is the error about field name ("" for the form's own).
func (f form) Err(name string) string { return f.Errors[name] }

// Refused reports whether the form came back with an error.
func (f form) Refused() bool { return len(f.Errors) > 0 }

// fieldView is what the "field" template draws: a label, an input with
// the value typed, and its error, tied to it for screen readers.
type fieldView struct {
	Form                    form
	Name, Label, Type, Hint string
	Required                bool
}

// field builds a fieldView for templates: {{template "field" (field .Form
// "name" "Name" "text" "")}}; a type ending in "!" is required.
func field(f form, name, label, typ, hint string) fieldView {
	req := strings.HasSuffix(typ, "!")
	return fieldView{Form: f, Name: name, Label: label, Type: strings.TrimSuffix(typ, "!"), Hint: hint, Required: req}
}
