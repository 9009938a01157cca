package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

func (a *app) handleListCoupons(c *fiber.Ctx) error {
	return listPage(a, c, "coupons", auth.ActionRead, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.Coupon, string, error) {
		return a.Catalog.ListCoupons(ctx, p.OrgID, pg)
	})
}

func (a *app) handleGetCoupon(c *fiber.Ctx) error {
	p, err := can(c, auth.ActionRead, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	out, err := a.Catalog.GetCoupon(ctx, p.OrgID, c.Params("coupon_id"))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *app) handleCreateCoupon(c *fiber.Ctx) error {
	var req struct {
		Code           string            `json:"code"`
		Kind           pantry.CouponKind `json:"kind"`
		Value          int64             `json:"value"`
		ValidFrom      time.Time         `json:"valid_from"`
		ValidTo        time.Time         `json:"valid_to"`
		MaxUsesPerSite int64             `json:"max_uses_per_site"`
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
	out, err := a.Catalog.CreateCoupon(ctx, p.OrgID, actor(p), cloud.CouponInput{
		Code: req.Code, Kind: req.Kind, Value: req.Value, ValidFrom: req.ValidFrom, ValidTo: req.ValidTo, MaxUsesPerSite: req.MaxUsesPerSite,
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (a *app) handleUpdateCoupon(c *fiber.Ctx) error {
	var req struct {
		Code           *string            `json:"code"`
		Kind           *pantry.CouponKind `json:"kind"`
		Value          *int64             `json:"value"`
		ValidFrom      *time.Time         `json:"valid_from"`
		ValidTo        *time.Time         `json:"valid_to"`
		MaxUsesPerSite *int64             `json:"max_uses_per_site"`
		Archived       *bool              `json:"archived"`
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
	out, err := a.Catalog.UpdateCoupon(ctx, p.OrgID, actor(p), c.Params("coupon_id"), cloud.CouponUpdate{
		Code: req.Code, Kind: req.Kind, Value: req.Value, ValidFrom: req.ValidFrom, ValidTo: req.ValidTo,
		MaxUsesPerSite: req.MaxUsesPerSite, Archived: req.Archived,
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *app) handleListCostCenters(c *fiber.Ctx) error {
	return listPage(a, c, "cost_centers", auth.ActionRead, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.CostCenter, string, error) {
		return a.Catalog.ListCostCenters(ctx, p.OrgID, pg)
	})
}

func (a *app) handleCreateCostCenter(c *fiber.Ctx) error {
	var req struct {
		Code string `json:"code"`
		Name string `json:"name"`
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
	out, err := a.Catalog.CreateCostCenter(ctx, p.OrgID, actor(p), cloud.CostCenterInput{Code: req.Code, Name: req.Name})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (a *app) handleUpdateCostCenter(c *fiber.Ctx) error {
	var req struct {
		Code     *string `json:"code"`
		Name     *string `json:"name"`
		Archived *bool   `json:"archived"`
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
	out, err := a.Catalog.UpdateCostCenter(ctx, p.OrgID, actor(p), c.Params("cost_center_id"), cloud.CostCenterUpdate{Code: req.Code, Name: req.Name, Archived: req.Archived})
	if err != nil {
		return err
	}
	return c.JSON(out)
}
