package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/rolecall/rolecall/creds"
	"github.com/rolecall/rolecall/server/control"
)

func (c *cli) token(args []string) int {
	fs := c.flags("token", "token [--rotate]",
		"export AWS_CONTAINER_AUTHORIZATION_TOKEN=\"$(rolecall token)\"   # for SDKs without _TOKEN_FILE support")
	rotate := fs.Bool("rotate", false, "replace the token (clients reading the token file pick up the new one; shells holding _TOKEN must eval \"$(rolecall env)\" again)")
	if rc := c.parse(fs, args); rc >= 0 {
		return rc
	}
	return c.call(func(cl *control.Client) error {
		tok, err := cl.Token(c.ctx, *rotate)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, tok)
		if *rotate {
			fmt.Fprintln(c.stderr, creds.Say(creds.TokenRotated))
		}
		return nil
	})
}

func (c *cli) tls(args []string) int {
	const syn = "tls save --cert FILE --key FILE | tls print | tls delete"
	if rc, done := c.actionVerb(args, syn, "rolecall tls save --cert rolecall.pem --key rolecall.key"); done {
		return rc
	}
	switch args[0] {
	case "save":
		fs := c.flags("tls save", "tls save --cert FILE --key FILE", "rolecall tls save --cert rolecall.crt --key rolecall.key")
		certFile := fs.String("cert", "", "PEM certificate (chain) file")
		keyFile := fs.String("key", "", "PEM private key file")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		if *certFile == "" || *keyFile == "" {
			return c.usageError(fs, "both --cert and --key are needed")
		}
		cert, err := os.ReadFile(*certFile)
		if err != nil {
			return c.fail(err)
		}
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			return c.fail(err)
		}
		return c.call(func(cl *control.Client) error {
			p, err := cl.SaveTLS(c.ctx, cert, key)
			if err == nil && !p.Saved {
				return errors.New("TLS pair " + p.Note)
			}
			if err == nil {
				fmt.Fprintln(c.stdout, "TLS pair", p.Note)
			}
			return err
		})
	case "print":
		fs := c.flags("tls print", "tls print", "rolecall tls print > rolecall-ca.pem")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		return c.call(func(cl *control.Client) error {
			p, err := cl.TLS(c.ctx)
			if err == nil {
				fmt.Fprint(c.stdout, p.Cert)
			}
			return err
		})
	case "delete":
		fs := c.flags("tls delete", "tls delete", "rolecall tls delete")
		if rc := c.parse(fs, args[1:]); rc >= 0 {
			return rc
		}
		return c.call(func(cl *control.Client) error {
			p, err := cl.DeleteTLS(c.ctx)
			if err == nil {
				fmt.Fprintln(c.stdout, "TLS pair", p.Note)
			}
			return err
		})
	}
	fmt.Fprintf(c.stderr, "rolecall tls: unknown action %q\nUsage: rolecall %s\n", args[0], syn)
	return exitUsage
}
