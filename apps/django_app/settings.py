"""Settings of the minimal benchmark project: no database, no apps, no
middleware beyond CommonMiddleware, so requests measure Django's request
cycle and not a configuration choice."""

SECRET_KEY = "wsgikit-bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "django_app.urls"
WSGI_APPLICATION = "django_app.wsgi.application"
INSTALLED_APPS = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {}
USE_TZ = True
USE_I18N = False
APPEND_SLASH = False
LOGGING_CONFIG = None
