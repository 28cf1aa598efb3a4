"""Something to reflect on: for a clinician's relatively weakest domain, a few plain suggestions tied to the model.

Pure: the caller gives each domain's released figures (the clinician's mean, the practice's mean, the reliability
of the clinician's mean); nothing here reads the database or decides what may be shown.

Which domain: among the clinician's figures reliable enough to compare clinicians (Spearman-Brown reliability
of at least `statistics.RELIABILITY_TARGET`, 0.70: docs/measurement.md, "Comparing clinicians"), the one whose
mean stands lowest against the practice's (own mean minus practice mean). A figure below the target says more
about which patients happened to answer than about the clinician, so it is never the reason for advice; when
no figure is reliable there is no suggestion at all (issue 14).

What to suggest: the suggestions are ours (not from any published instrument), written for the elements of the
healing-relationship model (Scott et al., Ann Fam Med 2008; docs/instruments.md), English and Spanish side by side
like the instruments' texts. A domain gets up to three: the first suggestion of each of its elements in the
model's order, then second ones, so that a domain with one element (hope, known) still gets two.
"""

from __future__ import annotations

from dataclasses import dataclass

from .instruments import ELEMENT_DOMAINS, localized
from .statistics import RELIABILITY_TARGET

MAX_SUGGESTIONS = 3

# element -> suggestions, each {"en": ..., "es": ...}. Plain language, one action each, addressed to the clinician.
SUGGESTIONS: dict[str, tuple[dict[str, str], ...]] = {
    # valuing
    "nonjudgmental": (
        {"en": "Before the visit, remind yourself of one thing you like or respect about this patient, and let it show.",
         "es": "Antes de la consulta, recuerde algo que le guste o respete de este paciente, y déjelo ver."},
    ),
    "connecting": (
        {"en": "Ask about something in the patient's life beyond the illness (work, family, a hobby) and come back "
               "to it next time.",
         "es": "Pregunte por algo de la vida del paciente más allá de la enfermedad (trabajo, familia, una afición) "
               "y retómelo la próxima vez."},
    ),
    "presence": (
        {"en": "For the first minute, look at the patient, not the screen, and let them finish before you speak.",
         "es": "Durante el primer minuto, mire al paciente y no a la pantalla, y déjele terminar antes de hablar."},
    ),
    # appreciating power
    "partnering": (
        {"en": "When there is a choice, set out two options and ask which fits the patient's life better.",
         "es": "Cuando haya opciones, presente dos y pregunte cuál encaja mejor con la vida del paciente."},
    ),
    "education": (
        {"en": "Before the patient leaves, ask them to tell you in their own words what they will do next.",
         "es": "Antes de que el paciente se vaya, pídale que le diga con sus propias palabras qué hará a continuación."},
    ),
    "pushing": (
        {"en": "Name one thing you will do for the patient outside the visit (a call, a referral, a letter) and say "
               "when.",
         "es": "Diga una cosa que hará por el paciente fuera de la consulta (una llamada, una derivación, una carta) "
               "y cuándo."},
    ),
    # abiding
    "continuity": (
        {"en": "Offer the patient a follow-up visit with you by name, and make it easy to book.",
         "es": "Ofrezca al paciente una cita de seguimiento con usted, por su nombre, y facilítele pedirla."},
    ),
    "crises": (
        {"en": "When a patient faces a serious illness or a loss, tell them how to reach you and that you will stay "
               "involved.",
         "es": "Cuando un paciente pase por una enfermedad grave o una pérdida, dígale cómo localizarle y que "
               "seguirá a su lado."},
    ),
    "caring_acts": (
        {"en": "Follow up a test result or a worry yourself, without waiting for the patient to ask.",
         "es": "Haga usted el seguimiento de un resultado o de una preocupación, sin esperar a que el paciente "
               "pregunte."},
    ),
    "not_giving_up": (
        {"en": "When there is no more treatment to offer, say what you can still do together.",
         "es": "Cuando ya no haya más tratamiento que ofrecer, diga lo que todavía pueden hacer juntos."},
    ),
    # trust
    "vulnerability": (
        {"en": "Tell the patient it is safe to say what worries or embarrasses them, and answer without judging.",
         "es": "Diga al paciente que puede contarle lo que le preocupa o le avergüenza, y responda sin juzgar."},
    ),
    "cared_for": (
        {"en": "Say out loud that you care how things go for them, not only about the results.",
         "es": "Diga en voz alta que le importa cómo le va, no solo los resultados."},
    ),
    "promises_kept": (
        {"en": "Promise only what you can do, write it down, and check at the next visit that it happened.",
         "es": "Prometa solo lo que pueda cumplir, apúntelo y compruebe en la siguiente consulta que se hizo."},
    ),
    "competence_honesty": (
        {"en": "Be open about what is uncertain, and say what you will do to find out.",
         "es": "Hable con franqueza de lo que no es seguro, y diga lo que hará para averiguarlo."},
    ),
    # hope
    "better_future": (
        {"en": "Point out one thing that has improved, however small, and one realistic next step.",
         "es": "Señale algo que haya mejorado, aunque sea poco, y un siguiente paso realista."},
        {"en": "Tell the patient what you believe they can manage, and why.",
         "es": "Diga al paciente qué cree usted que es capaz de lograr, y por qué."},
    ),
    # known
    "known_as_person": (
        {"en": "Ask what matters most to the patient in their life right now, and note it to come back to next time.",
         "es": "Pregunte qué es lo que más le importa al paciente en su vida ahora mismo, y anótelo para retomarlo "
               "la próxima vez."},
        {"en": "Before the visit, reread your notes on the patient's story, not only on the latest problem.",
         "es": "Antes de la consulta, relea sus notas sobre la historia del paciente, no solo sobre el último "
               "problema."},
    ),
}


@dataclass(frozen=True)
class Standing:
    """One domain's released figures for one clinician: their mean, the practice's, and how reliable theirs is."""

    domain: str
    mean: float
    practice_mean: float
    reliability: float | None

    @property
    def difference(self) -> float:
        """The clinician's mean minus the practice's: below zero, their patients rate this domain lower."""
        return self.mean - self.practice_mean

    @property
    def reliable(self) -> bool:
        return self.reliability is not None and self.reliability >= RELIABILITY_TARGET


@dataclass(frozen=True)
class Suggestion:
    element: str
    text: dict[str, str]  # {"en": ..., "es": ...}

    def in_language(self, language: str) -> str:
        return localized(self.text, language)


@dataclass(frozen=True)
class Reflection:
    standing: Standing
    suggestions: tuple[Suggestion, ...]

    @property
    def domain(self) -> str:
        return self.standing.domain


def weakest_reliable(standings: list[Standing]) -> Standing | None:
    """The reliable standing lowest against the practice (the first in the list on a tie); None when none is
    reliable."""
    reliable = [standing for standing in standings if standing.reliable]
    return min(reliable, key=lambda standing: standing.difference) if reliable else None


def suggestions_for(domain: str, limit: int = MAX_SUGGESTIONS) -> tuple[Suggestion, ...]:
    """Up to `limit` suggestions for a domain: each element's first, in the model's order, then second ones."""
    elements = [element for element, owner in ELEMENT_DOMAINS.items() if owner == domain]
    chosen: list[Suggestion] = []
    depth = max((len(SUGGESTIONS.get(element, ())) for element in elements), default=0)
    for rank in range(depth):
        for element in elements:
            texts = SUGGESTIONS.get(element, ())
            if rank < len(texts) and len(chosen) < limit:
                chosen.append(Suggestion(element, texts[rank]))
    return tuple(chosen)


def reflect(standings: list[Standing]) -> Reflection | None:
    """What to reflect on, from a clinician's released standings; None when no figure is reliable enough."""
    weakest = weakest_reliable(standings)
    if weakest is None:
        return None
    return Reflection(weakest, suggestions_for(weakest.domain))
