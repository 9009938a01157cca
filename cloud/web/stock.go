package web

// stockRoutes lists this area's pages (being built).
func (a *app) stockRoutes(page pageFunc) {}
