From bob@senders.example Tue Mar 02 09:44:33 1999
Received: from CALLER by myhost.test.ex with local (Exim x.yz)
	(envelope-from <bob@senders.example>)
	id 10HmaY-0005vi-00;
	Tue, 2 Mar 1999 09:44:33 +0000
Subject: message 2, bob to usery@other.test.ex and userx@test.ex
Message-Id: <E10HmaY-0005vi-00@myhost.test.ex>
From: CALLER_NAME <bob@senders.example>
Sender: CALLER_NAME <CALLER@test.ex>
Date: Tue, 2 Mar 1999 09:44:33 +0000

Body 2.

From alice@senders.example Tue Mar 02 09:44:33 1999
Received: from CALLER by myhost.test.ex with local (Exim x.yz)
	(envelope-from <alice@senders.example>)
	id 10HmaX-0005vi-00
	for userx@test.ex;
	Tue, 2 Mar 1999 09:44:33 +0000
Subject: message 1, alice to userx@test.ex
Message-Id: <E10HmaX-0005vi-00@myhost.test.ex>
From: CALLER_NAME <alice@senders.example>
Sender: CALLER_NAME <CALLER@test.ex>
Date: Tue, 2 Mar 1999 09:44:33 +0000

Body 1.

