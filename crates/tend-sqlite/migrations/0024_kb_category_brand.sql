-- Help-center categories per brand (issue 4): kb_categories.brand_id (there since 0010)
-- now means "shown only in this brand's help center"; pages filter on it.
CREATE INDEX kb_categories_brand ON kb_categories(brand_id);
