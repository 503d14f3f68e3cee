"""Forms of the editing screens: one form per thing, plain labels, help on each field."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ops.inventory.colours import too_light
from sites.documents import upload_limit_mb
from sites.labels import DOC_TYPES

SLUG_RE = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_SLUG_MSG = _l("Use lowercase letters, digits and dashes only (for example: rapport-2026).")


def _publish_choices() -> list[tuple[str, str]]:
    return [("draft", _l("Keep as a draft (not visible)")),
            ("published", _l("Publish (now, or on the date below)")),
            ("archived", _l("Archive (hidden from the public)"))]


class PublishFields:
    """Status and optional publication date, shared by the content forms."""

    status = RadioField(_l("Publication"), default="draft", choices=_publish_choices(),
                        description=_l("A draft is only visible to you and the administrators."))
    publish_at = DateTimeLocalField(
        _l("Publication date (optional)"), validators=[Optional()], format="%Y-%m-%dT%H:%M",
        description=_l("Leave empty to publish now. A later date schedules the publication "
                       "(Bamako time)."))


class ArticleForm(PublishFields, FlaskForm):
    """A news item, with an optional attached document."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        description=_l("A short, clear title, as in a newspaper."))
    slug = StringField(_l("Web address (optional)"),
                       validators=[Optional(), Length(max=150), Regexp(SLUG_RE, message=_SLUG_MSG)],
                       description=_l("The end of the page's address. Leave empty: it is made "
                                      "from the title."))
    summary = TextAreaField(_l("Summary"), validators=[Length(max=400)],
                            description=_l("One or two sentences shown in lists and feeds."))
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=100_000)],
                         description=_l("Write normally; leave an empty line between paragraphs."))
    featured = BooleanField(_l("Show on the portal's home page"))
    attachment = FileField(_l("Attached document (optional)"),
                           description=LazyString(lambda: gettext(
                               "PDF, Word, Excel, PowerPoint, OpenDocument, CSV, text or image; "
                               "%(mb)s MB at most.", mb=upload_limit_mb())))
    attachment_title = StringField(_l("Title of the attached document"),
                                   validators=[Length(max=200)])


class DocumentForm(PublishFields, FlaskForm):
    """A document of the library."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        description=_l("The document's title as readers will search for it."))
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)],
                                description=_l("What the document is about, in a few lines."))
    doc_type = SelectField(_l("Type of document"),
                           choices=[(k, v) for k, v in DOC_TYPES.items()], default="report")
    year = IntegerField(_l("Year"), default=lambda: date.today().year,
                        validators=[DataRequired(), NumberRange(min=1960, max=2100)],
                        description=_l("The year the document was issued."))
    file = FileField(_l("File"),
                     description=LazyString(lambda: gettext(
                         "PDF, Word, Excel, PowerPoint, OpenDocument, CSV, text or image; "
                         "%(mb)s MB at most. Leave empty to keep the current file.",
                         mb=upload_limit_mb())))
    featured = BooleanField(_l("Feature on the portal's home page"))


class MeetingForm(PublishFields, FlaskForm):
    """A meeting of the group."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        description=_l("For example: Monthly meeting of the group."))
    day = DateField(_l("Date"), validators=[DataRequired()])
    start = TimeField(_l("Start time"), validators=[DataRequired()],
                      description=_l("Bamako time."))
    end = TimeField(_l("End time"), validators=[DataRequired()])
    location = StringField(_l("Place"), validators=[Length(max=200)],
                           description=_l("Room and building, or the link of an online meeting."))
    description = TextAreaField(_l("Agenda"), validators=[Length(max=5000)])
    cancelled = BooleanField(_l("This meeting is cancelled"))

    def validate_end(self, field: TimeField) -> None:
        """The meeting must end after it starts."""
        if self.start.data and field.data and field.data <= self.start.data:
            raise ValidationError(_l("The end time must be after the start time."))


class IdentityForm(FlaskForm):
    """A platform's logo, banner, colour and tagline."""

    colour = StringField(_l("Colour"), validators=[Optional(), Regexp(
        r"^#[0-9a-fA-F]{6}$", message=_l("A colour like #1f5f8b."))],
        description=_l("The platform's accent colour, for titles and buttons."))
    def validate_colour(self, field: StringField) -> None:
        """White text is drawn on the colour: refuse one too light to read."""
        if field.data and re.fullmatch(r"#[0-9a-fA-F]{6}", field.data) and too_light(field.data):
            raise ValidationError(_l("This colour is too light: white text on it would be hard "
                                     "to read. Choose a darker colour."))

    tagline = StringField(_l("Tagline"), validators=[Length(max=300)],
                          description=_l("One sentence under the platform's name."))
    logo = FileField(_l("Logo"), description=_l("PNG or JPEG image, square if possible."))
    banner = FileField(_l("Banner"), description=_l("PNG or JPEG image, wide (about 1200 × 300)."))


class UserForm(FlaskForm):
    """A new account."""

    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    organisation = StringField(_l("Organisation"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=[("member", _l("Member")),
                                            ("focal", _l("Focal point")),
                                            ("admin", _l("Administrator"))])
    group = SelectField(_l("Group"), choices=[], validate_choice=False,
                        description=_l("The group of a focal point or member."))


class PageForm(PublishFields, FlaskForm):
    """An institutional page."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Web address"), validators=[DataRequired(), Length(max=120),
                                                      Regexp(SLUG_RE, message=_SLUG_MSG)])
    structure = SelectField(_l("Structure"), choices=[], validate_choice=False)
    summary = TextAreaField(_l("Summary"), validators=[Length(max=400)])
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=100_000)])


class ConfirmForm(FlaskForm):
    """An empty form: just the CSRF token, for buttons that change something."""


__all__ = ["ArticleForm", "ConfirmForm", "DocumentForm", "IdentityForm", "MeetingForm",
           "PageForm", "UserForm"]
