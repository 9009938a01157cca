package web

// catalogRoutes lists this area's pages (being built).
func (a *app) catalogRoutes(page pageFunc) {}
