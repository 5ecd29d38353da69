# appointment_booking in French. Each message translates the text of the node it is named
# after (see README, "Languages").

greet = Bonjour ! Je peux vous réserver un rendez-vous au salon.

ask_service = Que souhaitez-vous ?
ask_service-invalid = Choisissez l'une des options, ou tapez « cancel ».
ask_service-haircut = Coupe
ask_service-colour = Couleur
ask_service-beard_trim = Taille de barbe

ask_day = Quel jour vous convient ?
ask_day-invalid = Nous sommes ouverts du lundi au samedi. Quel jour ?
ask_day-monday = Lundi
ask_day-tuesday = Mardi
ask_day-wednesday = Mercredi
ask_day-thursday = Jeudi
ask_day-friday = Vendredi
ask_day-saturday = Samedi

no_slot = Désolé, rien n'est libre { $day_label }.
offer_slot = Le premier créneau libre { $day_label } est à { $slot_label }. Je le réserve ? (oui/non)
offer_slot-invalid = Répondez par oui ou par non, s'il vous plaît.
slot_taken = Quelqu'un vient de prendre ce créneau, désolé.

booked = C'est réservé : { $service_label }, { $day_label } à { $slot_label }. Votre référence est { $reference } ; la confirmation est dans votre boîte mail.
booked_no_email = C'est réservé : { $service_label }, { $day_label } à { $slot_label }. Votre référence est { $reference }. Je n'ai pas pu envoyer la confirmation, notez-la bien.
not_verified = Il me faut une adresse email vérifiée pour réserver. Envoyez un message pour recommencer.
service_down = Notre système de réservation ne répond pas pour l'instant. Réessayez dans quelques minutes.
gave_up = Restons-en là ; envoyez un message quand vous voudrez réessayer.
cancelled = D'accord, rien n'est réservé. Envoyez un message pour recommencer.

booking_confirmation-subject = Votre rendez-vous de { $day_label }
booking_confirmation-text =
    C'est réservé : { $service_label }, { $day_label } à { $slot_label }.
    Votre référence est { $reference }.
