package web

// reportRoutes lists this area's pages (being built).
func (a *app) reportRoutes(page pageFunc) {}
