package api

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

func (a *app) handleListItems(c *fiber.Ctx) error {
	return listPage(a, c, "items", auth.ActionRead, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.Item, string, error) {
		return a.Catalog.ListItems(ctx, p.OrgID, pg)
	})
}

func (a *app) handleCreateItem(c *fiber.Ctx) error {
	var req struct {
		Name              string       `json:"name"`
		Description       string       `json:"description"`
		Price             pantry.Money `json:"price"`
		Tags              []string     `json:"tags"`
		Allergens         []string     `json:"allergens"`
		LowStockThreshold int64        `json:"low_stock_threshold"`
		ImageURL          string       `json:"image_url"`
		Station           string       `json:"station"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	p, err := can(c, auth.ActionWriteCatalog, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	it, err := a.Catalog.CreateItem(ctx, p.OrgID, actor(p), cloud.ItemInput{
		Name: req.Name, Description: req.Description, Price: req.Price, Tags: req.Tags,
		Allergens: req.Allergens, LowStockThreshold: req.LowStockThreshold, ImageURL: req.ImageURL, Station: req.Station,
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(it)
}

func (a *app) handleGetItem(c *fiber.Ctx) error {
	p, err := can(c, auth.ActionRead, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	it, err := a.Catalog.GetItem(ctx, p.OrgID, c.Params("item_id"))
	if err != nil {
		return err
	}
	return c.JSON(it)
}

func (a *app) handleUpdateItem(c *fiber.Ctx) error {
	var req struct {
		Name              *string       `json:"name"`
		Description       *string       `json:"description"`
		Price             *pantry.Money `json:"price"`
		Tags              *[]string     `json:"tags"`
		Allergens         *[]string     `json:"allergens"`
		LowStockThreshold *int64        `json:"low_stock_threshold"`
		ImageURL          *string       `json:"image_url"`
		Station           *string       `json:"station"`
		Archived          *bool         `json:"archived"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	p, err := can(c, auth.ActionWriteCatalog, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	it, err := a.Catalog.UpdateItem(ctx, p.OrgID, actor(p), c.Params("item_id"), cloud.ItemUpdate{
		Name: req.Name, Description: req.Description, Price: req.Price, Tags: req.Tags, Allergens: req.Allergens,
		LowStockThreshold: req.LowStockThreshold, ImageURL: req.ImageURL, Station: req.Station, Archived: req.Archived,
	})
	if err != nil {
		return err
	}
	return c.JSON(it)
}
