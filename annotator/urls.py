from django.urls import path

from annotator import views

app_name = "annotator"
urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/next", views.queue_next, name="queue_next"),
    path("my-reads-vs-gold/", views.my_reads_vs_gold, name="my_reads_vs_gold"),
    path("review/<int:report_id>/", views.review, name="review"),
    path("review/<int:report_id>/draft", views.review_draft, name="review_draft"),
    path("review/<int:report_id>/submit", views.review_submit, name="review_submit"),
    path("review/<int:report_id>/first-read", views.review_first_read, name="review_first_read"),
    path("review/<int:report_id>/reopen", views.review_reopen, name="review_reopen"),
    path("review/<int:report_id>/skip", views.review_skip, name="review_skip"),
    path("review/<int:report_id>/flag", views.review_flag, name="review_flag"),
    path("reread/<int:report_id>/", views.reread, name="reread"),
    path("reread/<int:report_id>/submit", views.reread_submit, name="reread_submit"),
    path("annotations/<int:annotation_id>/", views.annotation_detail, name="annotation_detail"),
    path("adjudicate/", views.adjudication_list, name="adjudication_list"),
    path("adjudicate/<int:report_id>/", views.adjudicate, name="adjudicate"),
    path("manage/users/", views.manage_users, name="manage_users"),
    path("manage/settings/", views.manage_settings, name="manage_settings"),
    path("manage/gold-versions/", views.manage_gold_versions, name="manage_gold_versions"),
    path("manage/gold-versions/compare", views.manage_gold_compare, name="manage_gold_compare"),
    path("manage/imports/labels", views.label_import, name="label_import"),
    path("manage/imports/<int:batch_id>/withdraw", views.import_withdraw, name="import_withdraw"),
    path("manage/imports/<int:batch_id>/restore", views.import_restore, name="import_restore"),
    path("manage/flags/", views.manage_flags, name="manage_flags"),
    path("manage/guidelines/", views.manage_guidelines, name="manage_guidelines"),
    path("manage/calibration/", views.manage_calibration, name="manage_calibration"),
]
