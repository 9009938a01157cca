package web

// siteRoutes lists this area's pages (being built).
func (a *app) siteRoutes(page pageFunc) {}
