#!/bin/sh
# Pipe command of test 0202: record who the message was for and its Subject:,
# print a line on stdout (the transport may return it), exit with status $1.
subject=`sed -n 's/^Subject: //p' | head -1`
echo "sh: $LOCAL_PART got \"$subject\", exiting $1" >>"$2"
echo "output of the shell script for $LOCAL_PART"
exit $1
