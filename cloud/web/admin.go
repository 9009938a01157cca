package web

// adminRoutes lists this area's pages (being built).
func (a *app) adminRoutes(page pageFunc) {}
