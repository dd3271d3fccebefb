"""Distribution of the `platform` client as one file, for `/cli/installer` and CI images.

Only `zipapp_build` lives here: it packs `homeport.cli` (standard library only) into a
Python zip application, so hosts without Homeport installed can run the client.
"""
