app_name = "delegation"

urlpatterns: list = []
