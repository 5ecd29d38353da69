# otp_authentication in French. Each message translates the text of the node it is named
# after (see README, "Languages"); the keywords' French words are in the dialog.

greet = Bonjour ! Je vais vérifier votre adresse email avec un code à usage unique.

ask_email = Quelle est votre adresse email ?
ask_email-invalid = Cela ne ressemble pas à une adresse email. Pouvez-vous la vérifier et réessayer ?
ask_email-invalid-2 = Écrivez-la comme nom@exemple.com, s'il vous plaît.
ask_email-invalid-3 = Ce n'est toujours pas une adresse utilisable. Un dernier essai, comme nom@exemple.com.

ask_code = Je vous ai envoyé un code à { $otp_length } chiffres à { $email }. Il expire dans { $otp_expires_in_minutes ->
    [one] une minute
   *[other] { $otp_expires_in_minutes } minutes
}. Saisissez-le ici, ou tapez « renvoyer » pour un nouveau code, « changer d'adresse » pour utiliser une autre adresse, ou « annuler » pour arrêter.
ask_code-invalid = Le code a { $otp_length } chiffres, comme 1234. Saisissez-le, ou tapez « renvoyer », « changer d'adresse » ou « annuler ».

previous_code = C'était le code d'un e-mail précédent : seul le plus récent fonctionne. Regardez notre dernier e-mail. { $otp_attempts_left ->
    [one] Il vous reste un essai.
   *[other] Il vous reste { $otp_attempts_left } essais.
} Tapez « renvoyer » pour un autre code, « changer d'adresse » pour utiliser une autre adresse, ou « annuler » pour arrêter.
previous_code-invalid = Le code a { $otp_length } chiffres, comme 1234. Saisissez-le, ou tapez « renvoyer », « changer d'adresse » ou « annuler ».

wrong_code = Ce code n'est pas le bon. { $otp_attempts_left ->
    [one] Il vous reste un essai.
   *[other] Il vous reste { $otp_attempts_left } essais.
} Réessayez, ou tapez « renvoyer » pour un nouveau code, « changer d'adresse » pour utiliser une autre adresse, ou « annuler » pour arrêter.
wrong_code-invalid = Le code a { $otp_length } chiffres, comme 1234. Saisissez-le, ou tapez « renvoyer », « changer d'adresse » ou « annuler ».

code_expired = Ce code a expiré (les codes durent { $otp_expires_in_minutes ->
    [one] une minute
   *[other] { $otp_expires_in_minutes } minutes
}). Je vous en envoie un nouveau ? (oui/non)
code_expired-invalid = Répondez par oui ou par non, s'il vous plaît.

longer_code = Plusieurs codes erronés ont été saisis pour cette adresse : pour la protéger, ce code ne fonctionne plus et je vous en envoie un plus long.

wait_to_resend = Je viens de vous envoyer un code. Attendez { $otp_retry_after_seconds ->
    [one] une seconde
   *[other] { $otp_retry_after_seconds } secondes
} avant d'en demander un autre. Vous pouvez saisir le code que vous avez, ou taper « renvoyer » dans un instant.
wait_to_resend-invalid = Saisissez le code reçu par email, ou tapez « renvoyer » dans un instant.

send_failed = Désolé, je n'ai pas pu envoyer l'email à { $email }. Tapez « retry » pour réessayer, ou saisissez une autre adresse email.
send_failed-invalid = Tapez « retry », ou saisissez une adresse email comme nom@exemple.com.

success = Merci, { $email } est vérifiée.
locked_out = Trop de codes erronés pour celui-ci : je l'ai bloqué pour protéger votre compte. Envoyez un message pour recommencer avec un nouveau code.
locked_for_now = Trop de codes erronés pour cette adresse aujourd'hui : je ne vérifie plus de codes pour elle. Réessayez dans { $otp_retry_after_minutes ->
    [one] une minute
   *[other] { $otp_retry_after_minutes } minutes
}.
too_many_sends = Trop de codes ont été envoyés à cette adresse récemment. Réessayez dans { $otp_retry_after_minutes ->
    [one] une minute
   *[other] { $otp_retry_after_minutes } minutes
}.
no_email = Je n'ai pas obtenu d'adresse email utilisable, arrêtons-nous là. Envoyez un message pour recommencer.
code_abandoned = Je n'ai pas reçu de code valide, arrêtons-nous là. Envoyez un message pour recommencer.
cancelled = D'accord, j'ai annulé la vérification. Envoyez un message pour recommencer.

otp_email-subject = Votre code de vérification
otp_email-text =
    Votre code de vérification est { $code }.

    Il expire dans { $expires_in_minutes ->
        [one] une minute
       *[other] { $expires_in_minutes } minutes
    }. Si vous ne l'avez pas demandé, ignorez cet email.
otp_email-html = <p>Votre code de vérification est <strong style="font-size:1.4em;letter-spacing:0.2em">{ $code }</strong>.</p><p>Il expire dans { $expires_in_minutes } minutes. Si vous ne l'avez pas demandé, ignorez cet email.</p>

fallback = Désolé, je n'ai pas compris. Vous pouvez taper « annuler » pour arrêter ou « recommencer » pour reprendre depuis le début.
