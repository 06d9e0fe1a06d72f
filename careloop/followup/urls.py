from django.urls import path

from careloop.followup import step_views, supervision_views, views

app_name = "followup"
urlpatterns = [
    path("", views.worklist_page, name="worklist"),
    path("assign/", views.assign, name="assign"),
    path("tasks/<int:pk>/", views.task_page, name="task"),
    path("records/<int:pk>/recording/", views.recording, name="recording"),
    path("patients/<int:pk>/enrol/", views.plan_enrol, name="enrol"),
    path("plans/<int:pk>/stop/", views.plan_stop, name="plan_stop"),
    path("pathways/", views.pathway_list, name="pathways"),
    path("tasks/<int:pk>/alert/", step_views.task_raise_alert, name="task_alert"),
    path("tasks/<int:pk>/refer/", step_views.task_refer, name="task_refer"),
    path("tasks/<int:pk>/revisit/", step_views.task_revisit, name="task_revisit"),
    path("tasks/<int:pk>/note/", step_views.task_note, name="task_note"),
    path("patients/<int:pk>/refer/", step_views.patient_refer, name="patient_refer"),
    path("referrals/", step_views.referral_list, name="referrals"),
    path("referrals/<int:pk>/decide/", step_views.referral_decide, name="referral_decide"),
    path("referrals/<int:pk>/withdraw/", step_views.referral_withdraw, name="referral_withdraw"),
    path("team/", supervision_views.team_page, name="team"),
    path("team/hand-over/", supervision_views.hand_over, name="hand_over"),
    path("quality/", supervision_views.quality_page, name="quality"),
    path("quality/<int:pk>/", supervision_views.review_page, name="review"),
    path("revisits/", step_views.revisit_list, name="revisits"),
    path("revisits/<int:pk>/book/", step_views.revisit_book, name="revisit_book"),
    path("revisits/<int:pk>/held/", step_views.consultation_held, name="consultation_held"),
]
